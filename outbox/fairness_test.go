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

// TestSlowEndpointDoesNotStarveOthers: while a receiver holds the requests
// of an endpoint with a backlog (it answers only when the test lets it,
// or never), another endpoint's events go out one after another,
// whichever of the two sorts first by name (free slots used to go to
// endpoints in name order: `a-slow` took them all, `z-slow` none). The
// held endpoint keeps every slot but one, the one reserved for the other
// endpoint, and never more.
//
//   - held: the slow receiver answers nothing until the end and the
//     endpoint would wait an hour; slots given by name, or without the
//     reservation, would all go to it and b-fast would get nothing at all.
//   - slow: the slow receiver answers one held request after each of
//     b-fast's events, so the slots cycle; each freed one goes back to the
//     slow endpoint's backlog except the reserved one.
//   - black hole: the slow receiver never answers and its requests time
//     out, so the endpoint becomes unreachable: b-fast's events go out
//     before and after that.
func TestSlowEndpointDoesNotStarveOthers(t *testing.T) {
	t.Parallel()
	const concurrency = 4
	tests := []struct {
		name, slow string
		timeout    time.Duration // the slow endpoint's
		answer     bool          // the slow receiver answers one request per fast event
	}{
		{"alone", "", 0, false},
		{"held sorts first", "a-held", time.Hour, false},
		{"held sorts last", "z-held", time.Hour, false},
		{"slow sorts first", "a-slow", time.Hour, true},
		{"slow sorts last", "z-slow", time.Hour, true},
		{"black hole sorts first", "a-hole", 100 * time.Millisecond, false},
		{"black hole sorts last", "z-hole", 100 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fast := newReceiver(t, nil)
			o := open(t, Options{Concurrency: concurrency})
			eps := []Endpoint{fast.endpoint("b-fast")}
			eps[0].Phones = []int{2} // the slow endpoint's own backlog is for phone 1
			var sr *receiver
			var g *gate
			if tt.slow != "" {
				sr = newReceiver(t, nil)
				g = newGate()
				sr.gate = g
				ep := sr.endpoint(tt.slow)
				ep.Timeout = tt.timeout
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
			const backlog, n = 40, 20
			if sr != nil {
				for i := range backlog {
					if _, err := o.Enqueue(ctx, event(1, i)); err != nil {
						t.Fatal(err)
					}
				}
			}
			run(t, o)
			if g != nil {
				// Before the dispatcher stops (it waits for the requests in
				// flight) and the receiver closes (it waits for its handlers).
				t.Cleanup(g.release)
			}
			long := tt.timeout >= time.Hour
			// saturated waits until the slow endpoint holds every slot but
			// b-fast's (or more: the checks below catch that).
			saturated := func(what string) {
				t.Helper()
				waitFor(t, 30*time.Second, what, func() bool {
					held, _ := g.counts()
					return held >= concurrency-1
				})
			}
			if long {
				saturated("the slow endpoint to take its slots")
			}
			half := n / 2
			for i := range n {
				if tt.slow != "" && !long && i == half {
					// The black hole's requests have timed out: it is
					// unreachable, and only probes go to it now.
					waitFor(t, 30*time.Second, tt.slow+" to become unreachable", func() bool {
						st, err := o.Stats()
						return err == nil && slices.ContainsFunc(st.Endpoints, func(e EndpointStats) bool { return e.Name == tt.slow && e.Unreachable })
					})
				}
				if _, err := o.Enqueue(ctx, event(2, i)); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 30*time.Second, fmt.Sprintf("b-fast's event %d of %d next to %q", i+1, n, tt.slow), func() bool { return fast.delivered() == i+1 })
				if !long {
					continue
				}
				if held, _ := g.counts(); held != concurrency-1 {
					t.Errorf("b-fast's event %d went out with %d requests held by %s, want %d", i+1, held, tt.slow, concurrency-1)
				}
				if tt.answer {
					g.letOne()
					saturated(fmt.Sprintf("%s to take the freed slot after b-fast's event %d", tt.slow, i+1))
				}
			}
			if sr == nil {
				return
			}
			if long {
				if _, most := g.counts(); most != concurrency-1 {
					t.Errorf("%s had up to %d requests held at once, want %d (one slot stays b-fast's)", tt.slow, most, concurrency-1)
				}
			}
			// Once its receiver answers, the slow endpoint's backlog drains:
			// its own events and b-fast's, which it gets too.
			g.release()
			waitFor(t, 60*time.Second, tt.slow+"'s backlog", func() bool { return sr.delivered() == backlog+n })
			for _, r := range []*receiver{fast, sr} {
				r.mu.Lock()
				if r.bad != 0 {
					t.Errorf("%d requests failed verification", r.bad)
				}
				r.mu.Unlock()
			}
		})
	}
}

// TestShare: free slots go to the endpoint with the fewest requests in
// progress, in the views' (rotating) order on ties, and an endpoint with a
// request in progress leaves a slot for each other active endpoint that
// has none.
func TestShare(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
