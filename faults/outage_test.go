//go:build faults

package faults

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/webhook"
)

// fakeClock is an outbox.Clock whose time moves only when told to.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*fakeTimer]struct{}
}

type fakeTimer struct {
	clk *fakeClock
	at  time.Time
	c   chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Now(), timers: make(map[*fakeTimer]struct{})}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTimer(d time.Duration) outbox.Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{clk: f, at: f.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- f.now
		return t
	}
	f.timers[t] = struct{}{}
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	_, pending := t.clk.timers[t]
	delete(t.clk.timers, t)
	return pending
}

// Advance moves time on and fires the timers that became due.
func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	for t := range f.timers {
		if !t.at.After(f.now) {
			t.c <- f.now
			delete(f.timers, t)
		}
	}
}

// TestReceiverDownForAnHour queues 10,000 events while the receiver refuses
// connections for an hour of injected time, then brings it back: every
// event must arrive within seconds, none dead-lettered, none twice.
func TestReceiverDownForAnHour(t *testing.T) {
	n := outageEvents
	clk := newFakeClock()
	l := newLab(t, lab.Options{Agent: agent.Options{Clock: clk, ProbeInterval: 30 * time.Second}, ReceiverNow: clk.Now})
	ctx := bounded(t, 5*time.Minute)
	out := l.Agent().Outbox()
	l.ReceiverStop()

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				_, err := out.Enqueue(ctx, outbox.Event{Type: webhook.ReceiveSMS, Phone: 1, DedupeKey: fmt.Sprint("outage/", i),
					Body: func(id uint64) ([]byte, error) {
						return fmt.Appendf(nil, `{"id":%d,"at":"2026-11-22 10:00:00","text":"queued %d","destination":1,"origin":"+33612345678","command":false,"mms":false,"medias":[]}`, id, i), nil
					}})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !out.Metrics().Offline {
		if time.Now().After(deadline) {
			t.Fatal("the outbox never noticed the receiver was unreachable")
		}
		time.Sleep(10 * time.Millisecond)
	}
	attemptsBefore := out.Metrics().Attempts
	for range 120 { // an hour, in probe-sized steps
		clk.Advance(30 * time.Second)
		time.Sleep(2 * time.Millisecond)
	}
	probes := out.Metrics().Attempts - attemptsBefore
	if err := l.ReceiverStart(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	clk.Advance(45 * time.Second) // the next probe finds it
	if err := l.WaitEvents(bounded(t, 90*time.Second), webhook.ReceiveSMS, n); err != nil {
		t.Logf("metrics %+v", out.Metrics())
		st, _ := out.Stats()
		t.Logf("stats %+v", st)
		t.Fatalf("%v (%d arrived)", err, l.Count(webhook.ReceiveSMS))
	}
	drain := time.Since(back)
	st, err := out.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range st.Endpoints {
		if e.Dead != 0 {
			t.Errorf("%s: %d dead-lettered", e.Name, e.Dead)
		}
	}
	seen := make(map[string]bool)
	for _, ev := range l.EventsOf(webhook.ReceiveSMS) {
		if seen[ev.ReceiveSMS.Text] {
			t.Errorf("%q twice under different ids", ev.ReceiveSMS.Text)
		}
		seen[ev.ReceiveSMS.Text] = true
	}
	t.Logf("%d events queued during an hour offline (%d probe requests meanwhile); all delivered %s after the receiver came back; duplicates absorbed by webhook id: %d",
		n, probes, drain.Round(time.Millisecond), l.Receiver.Stats().Duplicates)
	if drain > 60*time.Second {
		t.Errorf("drain took %s", drain)
	}
}

// outageEvents is how many events queue during the outage.
var outageEvents = 10_000
