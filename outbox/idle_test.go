package outbox

import (
	"slices"
	"testing"
	"time"

	"github.com/simhook/simhook/internal/clock"
)

// loopWatch collects what the dispatcher says each time it waits.
type loopWatch chan loopWait

// loopWait is one wait of the dispatcher: when it will wake up by itself
// (zero: never), and how many deliveries it has in flight.
type loopWait struct {
	wake     time.Time
	inflight int
}

func watchLoop(o *Outbox) loopWatch {
	w := make(loopWatch, 1024)
	o.waiting = func(wake time.Time, inflight int) { w <- loopWait{wake, inflight} }
	return w
}

// wait returns the dispatcher's next wait.
func (w loopWatch) wait(t *testing.T) loopWait {
	t.Helper()
	select {
	case lw := <-w:
		return lw
	case <-time.After(30 * time.Second):
		t.Fatal("the dispatcher did not wait again")
		return loopWait{}
	}
}

// next returns when the dispatcher's next wait ends by itself.
func (w loopWatch) next(t *testing.T) time.Time {
	t.Helper()
	return w.wait(t).wake
}

// TestIdleArmsNoTimer: with nothing to do, the dispatcher arms no timer
// (it used to wake every minute, every second to hand pages back, and
// every second while holding for the clock); once it has delivered an
// event it wakes to hand the pages it touched back, then when retention
// is due for the event, then for its dedupe key, and then never.
func TestIdleArmsNoTimer(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	r := newReceiver(t, nil)
	r.now = clk.Now
	const retention = time.Hour
	o := open(t, Options{Clock: clk, TimeSynced: func() bool { return true }, Retention: retention})
	if err := o.SetEndpoints([]Endpoint{r.endpoint("e")}); err != nil {
		t.Fatal(err)
	}
	w := watchLoop(o)
	run(t, o)
	for !w.next(t).IsZero() {
	}
	if n := clk.Pending(); n != 0 {
		t.Fatalf("%d timers armed with nothing to do", n)
	}

	enqueueN(t, o, 0, 1)
	var wakes []time.Time
	settled := false
	for {
		lw := w.wait(t)
		wake := lw.wake
		// Time stands still until the delivery is recorded and the
		// dispatcher has taken note (a report made before is followed by
		// one made after: its request's end wakes the dispatcher). Moving
		// it on before would have the dispatcher hand pages back again a
		// second later for the request it had not seen end.
		if !settled {
			if settled = lw.inflight == 0 && endpointStats(t, o, "e").Delivered == 1; !settled {
				continue
			}
		}
		if wake.IsZero() {
			if st, err := o.Stats(); err == nil && st.Events == 0 {
				break
			}
			continue
		}
		if n := len(wakes); n == 0 || !wakes[n-1].Equal(wake) {
			wakes = append(wakes, wake)
		}
		if len(wakes) > 10 {
			t.Fatalf("the dispatcher keeps waking: %v", wakes)
		}
		if wake.After(clk.Now()) {
			clk.Set(wake)
		}
	}
	if r.delivered() != 1 {
		t.Errorf("%d events delivered, want 1", r.delivered())
	}
	want := []time.Time{
		start.Add(releaseEvery),                   // the pages touched handed back
		start.Add(retention + 1),                  // the event delivered at start
		start.Add(retention + 1 + o.pruneEvery()), // its dedupe key, one prune later
	}
	if !slices.EqualFunc(wakes, want, time.Time.Equal) {
		t.Errorf("woke at %v, want %v", wakes, want)
	}
	if n := clk.Pending(); n != 0 {
		t.Errorf("%d timers armed with nothing left to do", n)
	}
}

// TestHoldArmsTimerOnlyForWork: while sending waits for the clock, the
// dispatcher looks at the clock again every second only if something
// waits to be sent.
func TestHoldArmsTimerOnlyForWork(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		pending int
		timers  int
	}{
		{"nothing pending", 0, 0},
		{"a delivery waiting", 1, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
			o := open(t, Options{Clock: clk, RequireTimeSync: true, TimeSynced: func() bool { return false }})
			if err := o.SetEndpoints([]Endpoint{benchEndpoint("http://127.0.0.1:1/")}); err != nil {
				t.Fatal(err)
			}
			enqueueN(t, o, 0, tt.pending)
			// The kick of the enqueue would wake the dispatcher's second
			// turn, which then stops its timer and arms it again: the
			// count below could fall in between. Its first turn looks at
			// the queue anyway.
			select {
			case <-o.kick:
			default:
			}
			w := watchLoop(o)
			run(t, o)
			wake := w.next(t)
			for wake.Equal(clk.Now()) { // the first turn hands back the pages it read
				wake = w.next(t)
			}
			if n := clk.Pending(); n != tt.timers {
				t.Errorf("%d timers armed, want %d (next wake %v)", n, tt.timers, wake)
			}
			if tt.timers > 0 && !wake.Equal(clk.Now().Add(time.Second)) {
				t.Errorf("wakes at %v, want a second from now", wake)
			}
		})
	}
}
