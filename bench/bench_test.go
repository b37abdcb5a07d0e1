package bench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmallRun runs every in-process figure with small counts and checks
// the figures are complete and consistent, and that the table shows them.
func TestSmallRun(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the whole pipeline several times")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := Options{Count: 20, Burst: 5, Delay: 20 * time.Millisecond, DelayedCount: 10, Startup: 20, OutboxEvents: 300}
	r, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	for name, l := range map[string]Latencies{"single": r.Single, "bursts": r.Bursts} {
		if l.N != o.Count || l.P50 <= 0 || l.P99 < l.P50 || l.Max < l.P99 {
			t.Errorf("%s: %+v", name, l)
		}
	}
	if r.SingleDelayed.N != o.DelayedCount || r.SingleDelayed.P50 < o.Delay {
		t.Errorf("delayed: %+v; every SMS costs at least one modem reply", r.SingleDelayed)
	}
	if r.StartupDrain <= 0 || r.StartupDrainDelayed <= r.StartupDrain {
		t.Errorf("start-up drains %s and %s (delayed must be slower)", r.StartupDrain, r.StartupDrainDelayed)
	}
	if r.Outbox == nil || r.Outbox.EnqueueSerial <= 0 || r.Outbox.EnqueueConcurrent <= 0 || r.Outbox.DrainRate <= 0 {
		t.Errorf("outbox figures: %+v", r.Outbox)
	}
	var buf bytes.Buffer
	r.WriteTable(&buf)
	for _, want := range []string{"+CMTI → verified webhook", "start-up drain", "outbox drain of 300 events"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}

// TestMeasureIdle builds the agent as shipped (CGO_ENABLED=0) and measures
// it idle with two phones for a short window: every figure is filled in
// and consistent, and the table shows one row per count.
func TestMeasureIdle(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the agent and runs it as a process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	binary := filepath.Join(t.TempDir(), "simhook")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", binary, "../cmd/simhook")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	r, err := MeasureIdle(ctx, binary, 2, time.Second, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Static || r.SharedWithBench || r.Phones != 2 || r.Idle != time.Second || r.Threads < 2 {
		t.Errorf("%+v", r)
	}
	if r.CPU < 0 || r.RunCPU < 0 || r.Wakeups < 0 {
		t.Errorf("CPU %s, run %s, wakeups %d", r.CPU, r.RunCPU, r.Wakeups)
	}
	if r.RSS <= 0 || r.RSSAnon <= 0 || r.RSSFile <= 0 || r.PSS <= 0 || r.PSS > r.RSS {
		t.Errorf("RSS %d (anon %d, file %d), PSS %d", r.RSS, r.RSSAnon, r.RSSFile, r.PSS)
	}
	// smaps is read a moment after status: allow for a little growth.
	if total := r.Parts.Total(); r.Parts.Text <= 0 || r.Parts.ROData <= 0 || r.Parts.Anon <= 0 || total < r.RSS*9/10 || total > r.RSS*11/10 {
		t.Errorf("parts %+v (total %d) against RSS %d", r.Parts, total, r.RSS)
	}
	// An idle agent may run no code at all in a one-second window (it arms
	// no timer), so touched text can be zero; it cannot exceed the resident.
	if r.Touched == nil || r.Touched.Text < 0 || r.Touched.Text > r.Parts.Text {
		t.Errorf("touched %+v against resident %+v", r.Touched, r.Parts)
	}
	if r.TargetCPU != 0 || r.TargetRSS != 0 {
		t.Errorf("issue 13 states no target for 2 phones: %s, %d", r.TargetCPU, r.TargetRSS)
	}
	var buf bytes.Buffer
	(&Results{Idle: []Idle{r}}).WriteTable(&buf)
	if out := buf.String(); !strings.Contains(out, "VmRSS MiB") || !strings.Contains(out, "touched while idle") || strings.Contains(out, "dynamically linked") || strings.Contains(out, "whose pages the bench shares") {
		t.Errorf("table:\n%s", out)
	}
}

// TestIdleTargets scales the per-30 s CPU budget to the window measured.
func TestIdleTargets(t *testing.T) {
	for _, tc := range []struct {
		phones int
		idle   time.Duration
		cpu    time.Duration
		rss    int64
		ok     bool
	}{
		{1, 30 * time.Second, 5 * time.Millisecond, 12 << 20, true},
		{16, 30 * time.Second, 30 * time.Millisecond, 16 << 20, true},
		{16, time.Minute, 60 * time.Millisecond, 16 << 20, true},
		{3, 30 * time.Second, 0, 0, false},
	} {
		got, ok := target(tc.phones, tc.idle)
		if ok != tc.ok || got.CPU != tc.cpu || got.RSS != tc.rss {
			t.Errorf("target(%d, %s) = %+v, %v", tc.phones, tc.idle, got, ok)
		}
	}
}
