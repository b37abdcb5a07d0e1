package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestSmallRun runs every in-process figure with small counts and checks
// the figures are complete and consistent, and that the table shows them.
func TestSmallRun(t *testing.T) {
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
