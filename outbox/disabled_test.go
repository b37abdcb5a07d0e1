package outbox

import (
	"testing"
	"time"

	"github.com/simhook/simhook/internal/clock"
)

// stepUntil moves the fake clock from timer to timer, as the outbox arms
// them, until cond holds; it never moves it past limit.
func stepUntil(t *testing.T, clk *clock.Fake, limit time.Time, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not by %s (simulated; limit %s)", what, clk.Now(), limit)
		}
		if next, ok := clk.Next(); ok && !next.After(limit) {
			clk.Set(next)
		}
		time.Sleep(time.Millisecond)
	}
}

// endpointStats returns one endpoint's line of Stats.
func endpointStats(t *testing.T, o *Outbox, name string) EndpointStats {
	t.Helper()
	st, err := o.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range st.Endpoints {
		if e.Name == name {
			return e
		}
	}
	return EndpointStats{Name: name}
}

// TestDisabledEndpointQueueAgesOut: an endpoint disabled by a 410 keeps
// receiving events, and its queue used to grow without bound (nothing was
// ever aged, dead-lettered or pruned). Its deliveries now die by the
// endpoint's MaxAge like any other, and their events go once the dead
// letters are older than dead_retention.
func TestDisabledEndpointQueueAgesOut(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	gone := newReceiver(t, func(int) int { return 410 })
	gone.now = clk.Now
	ok := newReceiver(t, nil)
	ok.now = clk.Now
	o := open(t, Options{Clock: clk, TimeSynced: func() bool { return true }, Retention: time.Hour})
	o.SetDelivery(Delivery{Retention: time.Hour, DeadRetention: 3 * time.Hour})
	eps := []Endpoint{gone.endpoint("gone"), ok.endpoint("ok")}
	for i := range eps {
		eps[i].Retry = RetryPolicy{Initial: time.Second, MaxInterval: time.Minute, MaxAge: 2 * time.Hour}
	}
	if err := o.SetEndpoints(eps); err != nil {
		t.Fatal(err)
	}
	stop := run(t, o)
	enqueueN(t, o, 0, 1)
	waitFor(t, 10*time.Second, "the 410", func() bool { return endpointStats(t, o, "gone").Disabled })
	enqueueN(t, o, 1, 3) // queued while it is disabled
	waitFor(t, 10*time.Second, "the other endpoint's deliveries", func() bool { return endpointStats(t, o, "ok").Delivered == 4 })
	if e := endpointStats(t, o, "gone"); e.Pending != 4 || e.Dead != 0 {
		t.Fatalf("the disabled endpoint after the 410: %+v", e)
	}

	// Its deliveries outlive neither MaxAge (two hours here)…
	stepUntil(t, clk, start.Add(3*time.Hour), "the disabled endpoint's deliveries dead", func() bool {
		e := endpointStats(t, o, "gone")
		return e.Pending == 0 && e.Dead == 4
	})
	if d := clk.Now().Sub(start); d < 2*time.Hour {
		t.Errorf("dead-lettered after %s, before MaxAge", d)
	}
	// … nor, dead, dead_retention (three hours here).
	died := clk.Now()
	stepUntil(t, clk, died.Add(4*time.Hour), "the events pruned", func() bool {
		st, err := o.Stats()
		return err == nil && st.Events == 0
	})
	if d := clk.Now().Sub(died); d < 3*time.Hour {
		t.Errorf("dead letters pruned %s after they died, before dead_retention", d)
	}
	stop()
	checkCounts(t, o)
	checkFile(t, o.db)
}
