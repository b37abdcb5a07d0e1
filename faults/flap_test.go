//go:build faults

package faults

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem"
	"github.com/simhook/simhook/modem/modemsim"
)

// flapResult is one flapping scenario's figures.
type flapResult struct {
	name         string
	cycles       int
	ready        []time.Duration // port back → phone up again, per cycle
	lost, dupNew int
	absorbed     int64
}

// TestModemFlapping takes the modem away and brings it back many times in
// a row, with SMS arriving before, during and after each absence, the way a
// USB stick behaves in a cabinet: pulled and replugged after 1 s, reset
// with AT+CFUN=1,1 (it re-enumerates), and gone for 10 s (usb_modeswitch
// after a reboot). The phones run with the product's default backoff
// (1 s doubling to 1 min), so a flap that were paced would show. It
// measures, per cycle, the time from the port's return to the phone being
// up again (initialised, +CNMI sent), and checks that no SMS is lost or
// delivered twice under a new id.
func TestModemFlapping(t *testing.T) {
	scenarios := []struct {
		name   string
		cycles int
		absent time.Duration
		reset  bool // AT+CFUN=1,1 through the agent instead of an unplug
	}{
		{"unplug, replug after 1 s", 20, time.Second, false},
		{"AT+CFUN=1,1 re-enumeration", 20, time.Second, true},
		{"gone for 10 s", 6, 10 * time.Second, false},
	}
	var mu sync.Mutex
	var results []flapResult
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		slices.SortFunc(results, func(a, b flapResult) int { return strings.Compare(a.name, b.name) })
		var b strings.Builder
		fmt.Fprintf(&b, "\n%-30s %6s %8s %8s %8s %5s %9s %9s\n", "scenario", "cycles", "median", "p90", "max", "lost", "dup (new)", "absorbed")
		for _, r := range results {
			s := slices.Clone(r.ready)
			slices.Sort(s)
			q := func(f float64) time.Duration { return s[min(len(s)-1, int(f*float64(len(s))))] }
			fmt.Fprintf(&b, "%-30s %6d %8s %8s %8s %5d %9d %9d\n", r.name, r.cycles,
				q(0.5).Round(time.Millisecond), q(0.9).Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond), r.lost, r.dupNew, r.absorbed)
		}
		t.Log("replug → ready (phone up again), per cycle:" + b.String())
	})
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t, lab.Options{Capacity: 500, ReenumerateDelay: sc.absent, Agent: agentWithDefaultBackoff()})
			ctx := bounded(t, 6*time.Minute)
			m := l.Modems[0]
			injected := make(map[string]bool)
			n := 0
			inject := func(k int) {
				for range k {
					text := fmt.Sprintf("flap %04d", n)
					if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: text}); err != nil {
						t.Fatalf("inject %d: %v", n, err)
					}
					injected[text] = true
					n++
				}
			}
			phone := func() (string, int) {
				p := l.Agent().Phones()[0]
				return p.Status, p.Reconnects
			}
			res := flapResult{name: sc.name, cycles: sc.cycles}
			for cycle := range sc.cycles {
				inject(5)
				_, reconnects := phone()
				plugged := m.PluggedAt()
				if sc.reset {
					if err := l.Agent().ResetPhone(ctx, 1); err != nil {
						t.Fatalf("cycle %d: reset: %v", cycle, err)
					}
				} else if err := m.Unplug(); err != nil {
					t.Fatalf("cycle %d: unplug: %v", cycle, err)
				}
				// The phone notices: its session ends.
				until(t, ctx, fmt.Sprintf("cycle %d: the phone noticing its modem went away", cycle), func() bool {
					_, r := phone()
					return r != reconnects
				})
				inject(3) // arrives while the modem is away: it waits on the SIM
				if !sc.reset {
					time.Sleep(sc.absent)
					if err := m.Replug(); err != nil {
						t.Fatalf("cycle %d: replug: %v", cycle, err)
					}
				}
				until(t, ctx, fmt.Sprintf("cycle %d: the modem coming back", cycle), func() bool { return m.PluggedAt().After(plugged) })
				back := m.PluggedAt()
				until(t, ctx, fmt.Sprintf("cycle %d: the phone up again", cycle), func() bool { s, _ := phone(); return s == "up" })
				res.ready = append(res.ready, time.Since(back))
				inject(2)
				time.Sleep(3 * time.Second) // up between flaps
			}
			waitAll(t, ctx, l, len(injected))
			res.lost, res.dupNew = tally(t, l, injected)
			res.absorbed = l.Receiver.Stats().Duplicates
			s := slices.Clone(res.ready)
			slices.Sort(s)
			median, worst := s[len(s)/2], s[len(s)-1]
			t.Logf("%s: %d cycles, replug → ready median %s, max %s", sc.name, sc.cycles, median.Round(time.Millisecond), worst.Round(time.Millisecond))
			if median > 1500*time.Millisecond || worst > 3*time.Second {
				t.Errorf("replug → ready median %s (target ≤ 1.5 s), max %s (target ≤ 3 s): %v", median, worst, res.ready)
			}
			mu.Lock()
			results = append(results, res)
			mu.Unlock()
		})
	}
}

// until polls cond every 5 ms (the resolution of the figures) until it
// holds; it fails the test when ctx ends first.
func until(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// agentWithDefaultBackoff shortens the phone's probe and sweep for the
// test's pace but keeps the product's reconnection backoff.
func agentWithDefaultBackoff() (o agent.Options) {
	o.Modem = func(c *modem.Config) {
		c.ProbeInterval = 300 * time.Millisecond
		c.SweepInterval = 3 * time.Second
		c.Backoff = modem.Backoff{}
	}
	return o
}
