//go:build faults

package faults

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
)

// TestSIGKILLDuringBurst sends a burst of 1,000 incoming SMS while the
// agent process is SIGKILLed at random moments 20 times and restarted after
// each kill. Nothing may be lost, and nothing may reach the receiver twice
// under different webhook ids.
func TestSIGKILLDuringBurst(t *testing.T) {
	const total, trials = 1000, 20
	l := newLab(t, lab.Options{Capacity: total + 50, Stopped: true})
	ctx := bounded(t, 8*time.Minute)
	injected := make(map[string]bool)
	next := 0
	inject := func(n int) {
		for range n {
			if next >= total {
				return
			}
			text := fmt.Sprintf("burst %04d", next)
			if _, err := l.Modems[0].InjectSMS(modemsim.SMS{From: "+33612345678", Text: text}); err != nil {
				t.Fatalf("inject %d: %v", next, err)
			}
			injected[text] = true
			next++
		}
	}
	for trial := range trials {
		p, err := l.StartProcess(ctx, binary)
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		// Inject this trial's share in a few bursts and kill in the middle.
		killAt := time.Duration(rand.IntN(400)) * time.Millisecond
		deadline := time.Now().Add(killAt)
		for time.Now().Before(deadline) {
			inject(10)
			time.Sleep(20 * time.Millisecond)
		}
		inject(total/trials - 1)
		time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	inject(total) // the rest, if the bursts did not reach the total
	p, err := l.StartProcess(ctx, binary)
	if err != nil {
		t.Fatal(err)
	}
	waitAll(t, ctx, l, len(injected))
	if err := p.Stop(10 * time.Second); err != nil {
		t.Error(err)
	}
	if left := l.Modems[0].Stored("SM"); len(left) != 0 {
		t.Errorf("%d messages left on the SIM", len(left))
	}
	tally(t, l, injected)
}
