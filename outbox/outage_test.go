package outbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestHourLongOutageWithInjectedClock: the receiver refuses connections for
// a simulated hour while events keep being queued (MaxAge is half an hour,
// so only the offline rule keeps them alive). When it comes back, the whole
// backlog arrives within seconds of real time, about oldest first, each
// event once with the random id stored at enqueue, and nothing is dead.
func TestHourLongOutageWithInjectedClock(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Now())
	r := newReceiver(t, nil)
	r.now = clock.Now
	addr := r.srv.Listener.Addr().String()
	r.srv.Close() // connection refused from now on

	const concurrency = 4
	o := open(t, Options{Clock: clock, ProbeInterval: 30 * time.Second, Concurrency: concurrency})
	ep := r.endpoint("e")
	ep.URL = "http://" + addr + "/hook"
	ep.Retry = RetryPolicy{Initial: 5 * time.Second, MaxInterval: 10 * time.Minute, MaxAge: 30 * time.Minute, ClientErrorAttempts: 5}
	if err := o.SetEndpoints([]Endpoint{ep}); err != nil {
		t.Fatal(err)
	}
	run(t, o)

	// Drive the fake clock: one simulated second per 300µs of real time.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			clock.Advance(time.Second)
			time.Sleep(300 * time.Microsecond)
		}
	}()
	defer func() { stop(); wg.Wait() }()

	// Twenty events every simulated six minutes, for an hour.
	start := clock.Now()
	const n = 200
	for batch := range 10 {
		for clock.Now().Sub(start) < time.Duration(batch)*6*time.Minute {
			time.Sleep(time.Millisecond)
		}
		enqueueN(t, o, batch*20, 20)
	}
	for clock.Now().Sub(start) < time.Hour {
		time.Sleep(time.Millisecond)
	}
	if !o.Metrics().Offline {
		t.Fatal("an hour of refused connections did not make the outbox offline")
	}
	if r.delivered() != 0 {
		t.Fatalf("%d events delivered while the receiver was down", r.delivered())
	}

	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen again on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(r.serve)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	defer func() {
		_ = srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}()
	// From here the clock moves only until the first probe gets through;
	// then it stands still, so the order of the drain depends on the
	// outbox alone, not on how much simulated time a loaded machine lets
	// pass between two requests.
	stop()
	wg.Wait()
	back, simBack := time.Now(), clock.Now()
	waitFor(t, 20*time.Second, "the first probe through", func() bool {
		if r.delivered() > 0 {
			return true
		}
		clock.Advance(time.Second)
		return false
	})
	frozen := clock.Now()
	waitFor(t, 20*time.Second, "the drain", func() bool { return r.delivered() == n })
	if !clock.Now().Equal(frozen) {
		t.Fatal("the clock moved during the drain")
	}
	t.Logf("backlog of %d drained %s (real) / %s (simulated) after the receiver came back",
		n, time.Since(back).Round(time.Millisecond), clock.Now().Sub(simBack))
	waitFor(t, 5*time.Second, "the acknowledgements", func() bool {
		st, _ := o.Stats()
		return len(st.Endpoints) == 1 && st.Endpoints[0].Pending == 0
	})

	seqOfID := make(map[string]uint64)
	if err := o.List(ListFilter{}, func(d DeliveryInfo) error {
		if d.State != StateDelivered {
			t.Errorf("event %d: %s after the outage", d.Seq, d.State)
		}
		seqOfID[d.RandomID] = d.Seq
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, o)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bad != 0 {
		t.Errorf("%d requests failed verification", r.bad)
	}
	for id, bodies := range r.got {
		if len(bodies) != 1 {
			t.Errorf("random id %s arrived %d times", id, len(bodies))
		}
		if _, ok := seqOfID[id]; !ok {
			t.Errorf("random id %s is not the one stored at enqueue", id)
		}
	}
	// Oldest first: each event arrives near its rank. The dispatcher keeps
	// up to 4×Concurrency deliveries between sending and committing their
	// outcome, so that many requests may overlap and overtake each other.
	// A request whose goroutine the scheduler stalls between its pick and
	// its write (the race detector on a loaded machine) is overtaken by as
	// many as the other slots deliver meanwhile: that is arrival order, not
	// the dispatcher's. So at most 1 % of the events may land further than
	// the slack, and none further than four times it.
	slack := 4*concurrency + 1
	var late []string
	for i, id := range r.order {
		rank := int(seqOfID[id]) - 1
		d := rank - i
		if d > slack || d < -slack {
			late = append(late, fmt.Sprintf("event %d arrived %d-th", rank+1, i+1))
		}
		if d > 4*slack || d < -4*slack {
			t.Errorf("event %d arrived %d-th, beyond four times the slack", rank+1, i+1)
		}
	}
	if len(late) > n/100 {
		t.Errorf("%d events arrived further than %d places from their rank: %v", len(late), slack, late)
	}
	if m := o.Metrics(); m.Deliveries["e"][OutcomeDead] != 0 || m.Offline {
		t.Errorf("metrics after the outage: %+v", m)
	}
}
