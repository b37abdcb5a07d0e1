package outbox

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

// testEndpoint is an endpoint on a host that is never dialled (the tests
// that use it call settle and pickDue directly).
func testEndpoint(name string) Endpoint {
	return Endpoint{
		Endpoint: webhook.Endpoint{Name: name, URL: "http://" + name + ".invalid/hook", Secrets: []string{testSecret}},
		Timeout:  2 * time.Second,
		Retry:    RetryPolicy{Initial: 5 * time.Second, MaxInterval: time.Minute, MaxAge: time.Hour, ClientErrorAttempts: 3},
	}
}

// refused is a failed attempt at the transport level, started now.
func refused(clock Clock, seq uint64, endpoint string, probe bool) attemptResult {
	return attemptResult{pick: pick{seq: seq, endpoint: endpoint, probe: probe}, err: errors.New("dial tcp: connection refused"), started: clock.Now()}
}

// answered is an attempt that got status, started now.
func answered(clock Clock, seq uint64, endpoint string, status int) attemptResult {
	return attemptResult{pick: pick{seq: seq, endpoint: endpoint}, status: status, started: clock.Now()}
}

// TestProbeBackoff: an endpoint that stops answering is probed about a
// second after the failure, then ever less often, doubling up to the cap
// (ProbeMax); an answer resets the backoff, so the next outage is found
// out as fast as the first. (Probes used to come every ProbeInterval, 30 s
// with jitter, from the first failure on.)
func TestProbeBackoff(t *testing.T) {
	t.Parallel()
	const ceiling = 8 * time.Second
	clock := newFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	o := open(t, Options{Clock: clock, ProbeInterval: ceiling})
	if err := o.SetEndpoints([]Endpoint{testEndpoint("crm")}); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, o, 0, 1)
	wait := func() time.Duration {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.endpoints["crm"].nextProbe.Sub(clock.Now())
	}
	type step struct {
		what   string
		res    func() attemptResult
		lo, hi time.Duration // the wait before the next probe
	}
	refuse := func(probe bool) func() attemptResult {
		return func() attemptResult { return refused(clock, 1, "crm", probe) }
	}
	steps := []step{
		{"first failure", refuse(false), 500 * time.Millisecond, time.Second},
		{"probe 1 refused", refuse(true), time.Second, 2 * time.Second},
		{"probe 2 refused", refuse(true), 2 * time.Second, 4 * time.Second},
		{"probe 3 refused", refuse(true), ceiling / 2, ceiling},
		{"probe 4 refused", refuse(true), ceiling / 2, ceiling},
		{"probe 5 refused", refuse(true), ceiling / 2, ceiling},
		{"answered 503", func() attemptResult { return answered(clock, 1, "crm", 503) }, ceiling / 2, 3 * ceiling / 2},
		{"refused again", refuse(false), 500 * time.Millisecond, time.Second},
	}
	for _, s := range steps {
		o.settle(s.res(), func() {})
		if w := wait(); w < s.lo || w > s.hi {
			t.Errorf("%s: next probe in %s, want %s to %s", s.what, w, s.lo, s.hi)
		}
		clock.Advance(max(wait(), 0))
	}
}

// TestUnreachableTimeIsNotAged: two hours pass (MaxAge is one) with one
// endpoint unreachable and another answering 503. The answering one's
// delivery spends its budget and dies; the unreachable one's delivery has
// aged by no more than the slack, has no attempt counted, and keeps that
// across a restart: each endpoint's unreachable time is in the file.
func TestUnreachableTimeIsNotAged(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := Open(path, Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	eps := []Endpoint{testEndpoint("down"), testEndpoint("erring")}
	if err := o.SetEndpoints(eps); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, o, 0, 1)
	start := clock.Now()
	o.settle(refused(clock, 1, "down", false), func() {})
	for clock.Now().Sub(start) < 2*time.Hour {
		clock.Advance(time.Minute)
		o.settle(refused(clock, 1, "down", true), func() {})
		if deliveryOf(t, o, 1, "erring").State == StatePending {
			o.settle(answered(clock, 1, "erring", 503), func() {})
		}
	}
	if d := deliveryOf(t, o, 1, "erring"); d.State != StateDead {
		t.Errorf("the erring endpoint's delivery after 2×MaxAge: %s, age %s", d.State, d.Age)
	}
	d := deliveryOf(t, o, 1, "down")
	if d.State != StatePending || d.Attempts != 0 || d.Age > ageSlack {
		t.Errorf("the unreachable endpoint's delivery after 2×MaxAge: %s, %d attempts, age %s", d.State, d.Attempts, d.Age)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}

	clock.Advance(time.Minute)
	o, err = Open(path, Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.SetEndpoints(eps); err != nil {
		t.Fatal(err)
	}
	// The file kept the endpoint's unreachable time (2 h up to the close).
	kept := o.offlineTotalOf("down", clock.Now())
	if kept < 2*time.Hour || kept > 2*time.Hour+2*time.Minute {
		t.Errorf("after a restart the unreachable endpoint's time is %s, want about 2h", kept)
	}
	o.settle(answered(clock, 1, "down", 200), func() {})
	if d := deliveryOf(t, o, 1, "down"); d.State != StateDelivered || d.Age > 3*ageSlack {
		t.Errorf("after a restart and the answer: %s, age %s", d.State, d.Age)
	}
	if m := o.Metrics(); m.OfflineTotal != 0 {
		t.Errorf("the host was never offline, yet OfflineTotal is %s", m.OfflineTotal)
	}
}

// TestRequestErrorWhileUnreachablePaced: a request that cannot be built (a
// bad template after a reload) while its endpoint is unreachable is a
// client error of the probed delivery, but the next probe still waits its
// turn: the backlog must not be dead-lettered in a busy loop with the
// clock standing still.
func TestRequestErrorWhileUnreachablePaced(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	o := open(t, Options{Clock: clock})
	if err := o.SetEndpoints([]Endpoint{testEndpoint("chat")}); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, o, 0, 3)
	o.settle(refused(clock, 1, "chat", false), func() {})
	clock.Advance(2 * time.Second)
	for range 5 {
		picks, _, err := o.pickDue(clock.Now(), 4, map[string]bool{}, map[string]int{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range picks {
			res := attemptResult{pick: p, status: -1, err: errors.New("template: render failed"), started: clock.Now()}
			o.settle(res, func() {})
		}
	}
	if n := o.Metrics().Deliveries["chat"][OutcomeClientError]; n != 1 {
		t.Errorf("%d request errors with the clock standing still, want the one probe", n)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		if d := deliveryOf(t, o, seq, "chat"); d.State != StatePending {
			t.Errorf("delivery %d is %s with the clock standing still", seq, d.State)
		}
	}
}
