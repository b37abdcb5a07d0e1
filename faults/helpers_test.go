//go:build faults

package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem"
	"github.com/simhook/simhook/webhook"
)

// binary is a simhook executable built once for the scenarios that run
// the agent as its own process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "simhook-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "simhook")
	build := exec.Command("go", "build", "-race", "-o", binary, "../cmd/simhook")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building simhook:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newLab builds a lab with fast driver timers and closes it after the test.
func newLab(t *testing.T, opts lab.Options) *lab.Lab {
	t.Helper()
	opts.Dir = t.TempDir()
	if opts.Agent.Modem == nil {
		opts.Agent.Modem = func(c *modem.Config) {
			c.ProbeInterval = 300 * time.Millisecond
			c.SweepInterval = 3 * time.Second
			c.Backoff = modem.Backoff{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond}
		}
	}
	opts.Agent.StopTimeout = 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := lab.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// bounded returns a context that ends after d.
func bounded(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// tally compares what was injected with what the receiver accepted: every
// text must have arrived, and none twice under different webhook ids
// (duplicates with the same id are absorbed by the receiver and reported).
func tally(t *testing.T, l *lab.Lab, injected map[string]bool) (lost, dup int) {
	t.Helper()
	seen := make(map[string]int)
	for _, ev := range l.EventsOf(webhook.ReceiveSMS) {
		seen[ev.ReceiveSMS.Text]++
	}
	for text := range injected {
		switch n := seen[text]; {
		case n == 0:
			lost++
			if lost <= 5 {
				t.Errorf("lost: %q", text)
			}
		case n > 1:
			dup++
			if dup <= 5 {
				t.Errorf("%q reached the receiver %d times under different ids", text, n)
			}
		}
	}
	for text := range seen {
		if !injected[text] {
			t.Errorf("unexpected text %q", text)
		}
	}
	st := l.Receiver.Stats()
	t.Logf("in %d, delivered %d distinct, lost %d, duplicates under new ids %d, duplicates absorbed by webhook id %d, rejected %d",
		len(injected), len(seen), lost, dup, st.Duplicates, st.Rejected)
	if st.Rejected > 0 {
		t.Errorf("the receiver rejected %d requests", st.Rejected)
	}
	return lost, dup
}

// waitAll waits until every injected text arrived.
func waitAll(t *testing.T, ctx context.Context, l *lab.Lab, n int) {
	t.Helper()
	err := l.WaitFor(ctx, func() bool {
		seen := make(map[string]bool)
		for _, ev := range l.EventsOf(webhook.ReceiveSMS) {
			seen[ev.ReceiveSMS.Text] = true
		}
		return len(seen) >= n
	}, fmt.Sprintf("%d distinct SMS", n))
	if err != nil {
		t.Error(err)
	}
}
