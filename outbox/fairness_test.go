package outbox

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

// TestSlowEndpointDoesNotStarveOthers: with a receiver that answers after
// 1.5 s (or never: it times out) holding a backlog, another endpoint's
// deliveries go out as if it were alone, whichever of the two sorts first
// by name (free slots used to go to endpoints in name order: `a-slow` took
// them all, `z-slow` none).
// Its p99 latency (enqueue to arrival) is compared with a run without the
// slow endpoint; the allowance is relative to the slow receiver's delay,
// which a starved endpoint waits for.
func TestSlowEndpointDoesNotStarveOthers(t *testing.T) {
	const slowDelay = 1500 * time.Millisecond
	tests := []struct {
		name, slow string
		timeout    time.Duration // the slow endpoint's
	}{
		{"alone", "", 0},
		{"slow sorts first", "a-slow", 4 * slowDelay},
		{"slow sorts last", "z-slow", 4 * slowDelay},
		{"black hole sorts first", "a-hole", slowDelay / 2},
		{"black hole sorts last", "z-hole", slowDelay / 2},
		// Held: the slow receiver answers nothing for an hour and the
		// endpoint waits as long. Slots given by name would all go to it
		// and never come back: b-fast would get nothing at all.
		{"held sorts first", "a-held", 2 * time.Hour},
	}
	var alone time.Duration
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lat := fastLatencies(t, tt.slow, slowDelay, tt.timeout)
			p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
			t.Logf("b-fast next to %q: %d deliveries, p50 %s, p99 %s", tt.slow, len(lat), p50, p99)
			if tt.slow == "" {
				alone = p99
				return
			}
			if limit := 3*alone + slowDelay/10; p99 > limit {
				t.Errorf("b-fast p99 %s next to %s, %s alone (allowed %s)", p99, tt.slow, alone, limit)
			}
		})
	}
}

// fastLatencies runs an outbox (concurrency 4) with an endpoint b-fast
// and, unless slow is empty, an endpoint of that name whose receiver takes
// delay to answer (its requests time out after timeout) and which has a
// backlog of its own. It enqueues events for both at a steady pace and
// returns b-fast's latencies.
func fastLatencies(t *testing.T, slow string, delay, timeout time.Duration) []time.Duration {
	fast := newReceiver(t, nil)
	o := open(t, Options{Concurrency: 4})
	eps := []Endpoint{fast.endpoint("b-fast")}
	eps[0].Phones = []int{2} // the slow endpoint's own backlog is for phone 1
	if slow != "" {
		sr := newReceiver(t, nil)
		if timeout > time.Hour {
			delay = time.Hour
		}
		sr.delay = func(int) time.Duration { return delay }
		ep := sr.endpoint(slow)
		ep.Timeout = timeout
		eps = append(eps, ep)
	}
	if err := o.SetEndpoints(eps); err != nil {
		t.Fatal(err)
	}
	event := func(phone, i int) Event {
		return Event{Type: webhook.ReceiveSMS, Phone: phone, DedupeKey: fmt.Sprint("k", phone, "/", i),
			Body: func(id uint64) ([]byte, error) { return fmt.Appendf(nil, `{"id":%d,"text":"m%d"}`, id, i), nil }}
	}
	ctx := context.Background()
	if slow != "" {
		for i := range 20 {
			if _, err := o.Enqueue(ctx, event(1, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	run(t, o)
	const n = 40
	sent := make(map[string]time.Time) // b-fast's random id → enqueue time
	for i := range n {
		time.Sleep(25 * time.Millisecond)
		at := time.Now()
		res, err := o.Enqueue(ctx, event(2, i))
		if err != nil {
			t.Fatal(err)
		}
		sent[deliveryOf(t, o, res.Seq, "b-fast").RandomID] = at
	}
	waitFor(t, 60*time.Second, "b-fast's deliveries", func() bool { return fast.delivered() == n })
	fast.mu.Lock()
	defer fast.mu.Unlock()
	var lat []time.Duration
	for id, at := range sent {
		lat = append(lat, fast.at[id].Sub(at))
	}
	return lat
}

// percentile returns the q-th quantile of ds (nearest rank).
func percentile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// TestShare: free slots go to the endpoint with the fewest requests in
// progress, in the views' (rotating) order on ties, and an endpoint with a
// request in progress leaves a slot for each other active endpoint that
// has none.
func TestShare(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	type ep struct {
		name   string
		busy   int
		cands  int
		active time.Time // when it last had something to send
	}
	long := now.Add(-2 * reserveFor)
	tests := []struct {
		name  string
		eps   []ep
		n     int
		want  map[string]int // slots each endpoint gets
		until time.Time
	}{
		{"the idle endpoint gets the freed slot", []ep{{"a-slow", 3, 5, now}, {"b-fast", 0, 1, now}}, 1,
			map[string]int{"b-fast": 1}, time.Time{}},
		{"a slot stays reserved for an active endpoint", []ep{{"a-slow", 3, 5, now}, {"b-fast", 0, 0, now.Add(-time.Second)}}, 1,
			map[string]int{}, now.Add(-time.Second).Add(reserveFor)},
		{"no reservation for an endpoint idle for long", []ep{{"a-slow", 3, 5, now}, {"b-fast", 0, 0, long}}, 1,
			map[string]int{"a-slow": 1}, time.Time{}},
		{"a backlog leaves one slot to the other", []ep{{"a-slow", 0, 10, now}, {"b-fast", 0, 0, now}}, 4,
			map[string]int{"a-slow": 3}, now.Add(reserveFor)},
		{"two backlogs share evenly", []ep{{"a", 0, 10, now}, {"b", 0, 10, now}}, 4,
			map[string]int{"a": 2, "b": 2}, time.Time{}},
		{"two busy endpoints keep one for the third", []ep{{"a", 0, 10, now}, {"b", 0, 10, now}, {"c", 0, 0, now}}, 4,
			map[string]int{"a": 2, "b": 1}, now.Add(reserveFor)},
		{"more endpoints than slots: first in turn", []ep{{"e", 0, 3, now}, {"a", 0, 3, now}, {"b", 0, 3, now}, {"c", 0, 3, now}, {"d", 0, 3, now}}, 4,
			map[string]int{"e": 1, "a": 1, "b": 1, "c": 1}, time.Time{}},
		{"the least loaded first", []ep{{"a", 2, 3, now}, {"b", 1, 3, now}, {"c", 0, 3, now}}, 1,
			map[string]int{"c": 1}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var views []*epView
			for _, e := range tt.eps {
				v := &epView{name: e.name, busy: e.busy, activeAt: e.active}
				for i := range e.cands {
					v.cands = append(v.cands, pick{seq: uint64(i + 1), endpoint: e.name})
				}
				views = append(views, v)
			}
			picks, until := share(views, tt.n, now)
			got := make(map[string]int)
			for _, p := range picks {
				got[p.endpoint]++
			}
			if !maps.Equal(got, tt.want) || !until.Equal(tt.until) {
				t.Errorf("got %v until %s, want %v until %s", got, until, tt.want, tt.until)
			}
			// Each endpoint's candidates are taken in its own order.
			next := make(map[string]uint64)
			for _, p := range picks {
				if next[p.endpoint]++; p.seq != next[p.endpoint] {
					t.Errorf("%s: seq %d out of order", p.endpoint, p.seq)
				}
			}
		})
	}
}

// TestShareUnreachable: an unreachable endpoint between probes reserves no
// slot (its probes would otherwise keep one from the others for the whole
// outage), and its due probe still gets one.
func TestShareUnreachable(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name        string
		probeDue    bool
		wantA, want int
	}{
		{"between probes", false, 4, 0},
		{"probe due", true, 3, 1},
	} {
		a := &epView{name: "a", activeAt: now}
		for i := range 10 {
			a.cands = append(a.cands, pick{seq: uint64(i + 1), endpoint: "a"})
		}
		down := &epView{name: "down", activeAt: now, unreachable: true}
		if tt.probeDue {
			down.cands = []pick{{seq: 1, endpoint: "down", probe: true}}
		}
		share([]*epView{a, down}, 4, now)
		if a.taken != tt.wantA || down.taken != tt.want {
			t.Errorf("%s: a takes %d, the unreachable one %d; want %d and %d", tt.name, a.taken, down.taken, tt.wantA, tt.want)
		}
	}
}
