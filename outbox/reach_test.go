package outbox

import (
	"testing"
	"time"
)

// TestProbeTriggers: an unreachable endpoint is probed (the oldest
// delivery, one request at a time unless the network changed since the one
// in progress left) when the host's network changes, when another endpoint
// answers after none did, and when a new event is queued for it at least
// ProbeFirst after its last probe; an endpoint that answers is not held
// back by it.
func TestProbeTriggers(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	o := open(t, Options{Clock: clock, ProbeInterval: time.Hour})
	if err := o.SetEndpoints([]Endpoint{testEndpoint("down"), testEndpoint("up")}); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, o, 0, 3)
	picks := func(busy map[string]int) map[string][]pick {
		t.Helper()
		ps, _, err := o.pickDue(clock.Now(), 8, map[string]bool{}, busy)
		if err != nil {
			t.Fatal(err)
		}
		by := make(map[string][]pick)
		for _, p := range ps {
			by[p.endpoint] = append(by[p.endpoint], p)
		}
		return by
	}
	isProbe := func(ps []pick) bool { return len(ps) == 1 && ps[0].probe && ps[0].seq == 1 }
	// fail makes "down" unreachable with a long probe backoff.
	fail := func() {
		o.settle(refused(clock, 1, "down", false), func() {})
		for range 12 {
			o.mu.Lock()
			wait := o.endpoints["down"].nextProbe.Sub(clock.Now())
			o.mu.Unlock()
			clock.Advance(wait)
			if p := picks(nil)["down"]; !isProbe(p) {
				t.Fatalf("no probe of the unreachable endpoint when due: %v", p)
			}
			o.settle(refused(clock, 1, "down", true), func() {})
		}
		clock.Advance(time.Millisecond)
	}
	fail()
	if st, _ := o.Stats(); !st.Online || !st.Endpoints[0].Unreachable || st.Endpoints[1].Unreachable {
		t.Fatalf("stats after the failures: %+v", st)
	}

	tests := []struct {
		name    string
		trigger func()
		busy    map[string]int
		probe   bool
	}{
		{"backed off", func() {}, nil, false},
		{"due, a request in progress", func() { clock.Advance(time.Hour) }, map[string]int{"down": 1}, false},
		{"network changed", o.NetworkChanged, nil, true},
		{"network changed, a request in progress", o.NetworkChanged, map[string]int{"down": 1}, true},
		{"new event soon after the last probe", func() { enqueueN(t, o, 10, 1) }, nil, false},
		{"new event a probe interval later", func() { clock.Advance(time.Second); enqueueN(t, o, 11, 1) }, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.trigger()
			got := picks(tt.busy)
			if isProbe(got["down"]) != tt.probe || !tt.probe && len(got["down"]) != 0 {
				t.Errorf("picks for the unreachable endpoint: %v, want a probe: %v", got["down"], tt.probe)
			}
			if len(got["up"]) == 0 {
				t.Errorf("nothing for the endpoint that answers")
			}
			if got["down"] != nil || tt.busy != nil {
				// The probe (or the request in progress) was refused.
				o.settle(refused(clock, 1, "down", true), func() {})
			}
		})
	}

	// Every endpoint unreachable, then one answers: the other is probed
	// at once.
	o.settle(refused(clock, 2, "up", false), func() {})
	if m := o.Metrics(); !m.Offline {
		t.Fatalf("both endpoints refuse but the outbox is not offline: %+v", m)
	}
	clock.Advance(time.Minute)
	o.settle(answered(clock, 2, "up", 200), func() {})
	if p := picks(nil)["down"]; !isProbe(p) {
		t.Errorf("another endpoint answered but the unreachable one is not probed: %v", p)
	}
	if m := o.Metrics(); m.Offline {
		t.Errorf("offline after an endpoint answered: %+v", m)
	}
}
