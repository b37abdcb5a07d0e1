package outbox

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

// TestHotReloadURLAndSecret moves endpoint "e" from one receiver and secret
// to another while events flow. Each receiver accepts only its own secret,
// so every event must arrive signed with the secret in force when it was
// sent; all arrive, none twice, none dead.
func TestHotReloadURLAndSecret(t *testing.T) {
	t.Parallel()
	r1 := newReceiver(t, nil)
	r2 := newReceiver(t, nil)
	r2.secret = func() string { return "second-secret" }
	o := open(t, Options{Concurrency: 4})
	if err := o.SetEndpoints([]Endpoint{r1.endpoint("e")}); err != nil {
		t.Fatal(err)
	}
	run(t, o)
	const n = 400
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			enqueueN(t, o, i, 1)
			if i%50 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	waitFor(t, 10*time.Second, "the first deliveries", func() bool { return r1.delivered() > 50 })
	ep := r2.endpoint("e")
	ep.Secrets = []string{"second-secret"}
	if err := o.SetEndpoints([]Endpoint{ep}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	waitFor(t, 10*time.Second, "every event", func() bool { return r1.delivered()+r2.delivered() == n })
	t.Logf("%d events to the first receiver, %d to the second", r1.delivered(), r2.delivered())
	if r2.delivered() == 0 {
		t.Error("nothing reached the new URL")
	}
	for _, r := range []*receiver{r1, r2} {
		r.mu.Lock()
		if r.bad != 0 {
			t.Errorf("%d requests signed with the wrong secret", r.bad)
		}
		for id, b := range r.got {
			if len(b) != 1 {
				t.Errorf("%s arrived %d times", id, len(b))
			}
		}
		r.mu.Unlock()
	}
	r1.mu.Lock()
	for id := range r1.got {
		r2.mu.Lock()
		if r2.got[id] != nil {
			t.Errorf("%s arrived at both receivers", id)
		}
		r2.mu.Unlock()
	}
	r1.mu.Unlock()
}

// TestRemovedEndpointIsParked: a removed endpoint's pending deliveries are
// neither sent nor lost, a new endpoint gets only later events, and the
// parked ones go out when an endpoint of that name returns.
func TestRemovedEndpointIsParked(t *testing.T) {
	t.Parallel()
	up := false
	ra := newReceiver(t, func(int) int {
		if up {
			return 200
		}
		return 503
	})
	rb := newReceiver(t, nil)
	o := open(t, Options{})
	a := ra.endpoint("a")
	a.Retry.MaxInterval = 50 * time.Millisecond
	if err := o.SetEndpoints([]Endpoint{a}); err != nil {
		t.Fatal(err)
	}
	run(t, o)
	enqueueN(t, o, 0, 10)
	waitFor(t, 5*time.Second, "failed attempts", func() bool { ra.mu.Lock(); defer ra.mu.Unlock(); return ra.n >= 10 })
	if err := o.SetEndpoints([]Endpoint{rb.endpoint("b")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let attempts in flight settle
	ra.mu.Lock()
	before := ra.n
	up = true
	ra.mu.Unlock()
	enqueueN(t, o, 10, 5)
	waitFor(t, 5*time.Second, "the new endpoint's events", func() bool { return rb.delivered() == 5 })
	time.Sleep(200 * time.Millisecond)
	ra.mu.Lock()
	if ra.n != before {
		t.Errorf("a removed endpoint got %d requests", ra.n-before)
	}
	ra.mu.Unlock()
	st, err := o.Stats()
	if err != nil {
		t.Fatal(err)
	}
	var parked *EndpointStats
	for i := range st.Endpoints {
		if st.Endpoints[i].Name == "a" {
			parked = &st.Endpoints[i]
		}
	}
	if parked == nil || parked.Configured || parked.Pending != 10 {
		t.Fatalf("parked endpoint in stats: %+v", st.Endpoints)
	}
	if err := o.SetEndpoints([]Endpoint{a, rb.endpoint("b")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the parked events", func() bool { return ra.delivered() == 10 })
	waitFor(t, 5*time.Second, "the acknowledgements", func() bool { st, _ := o.Stats(); return st.Endpoints[0].Pending == 0 })
	checkCounts(t, o)
	if rb.delivered() != 5 {
		t.Errorf("the new endpoint got %d events, want only the 5 enqueued after it was added", rb.delivered())
	}
}

// TestRoutingFilters checks event and phone filters decide the deliveries.
func TestRoutingFilters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		events []webhook.Type
		phones []int
		ev     Event
		want   bool
	}{
		{"all", nil, nil, Event{Type: webhook.InboundCall, Phone: 3}, true},
		{"type match", []webhook.Type{webhook.ReceiveSMS}, nil, Event{Type: webhook.ReceiveSMS}, true},
		{"type mismatch", []webhook.Type{webhook.ReceiveSMS}, nil, Event{Type: webhook.SendSMS}, false},
		{"phone match", nil, []int{1, 2}, Event{Type: webhook.ReceiveSMS, Phone: 2}, true},
		{"phone mismatch", nil, []int{1, 2}, Event{Type: webhook.ReceiveSMS, Phone: 3}, false},
		{"no phone goes everywhere", nil, []int{1}, Event{Type: webhook.PhoneReliability}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := open(t, Options{})
			ep := Endpoint{Endpoint: webhook.Endpoint{Name: "e", URL: "http://127.0.0.1:1/", Secrets: []string{testSecret}}, Events: tt.events, Phones: tt.phones}
			if err := o.SetEndpoints([]Endpoint{ep}); err != nil {
				t.Fatal(err)
			}
			tt.ev.Body = func(id uint64) ([]byte, error) { return fmt.Appendf(nil, `{"id":%d}`, id), nil }
			res, err := o.Enqueue(context.Background(), tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			info, err := o.Show(res.Seq)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(info.Deliveries) == 1; got != tt.want {
				t.Errorf("delivery made: %v, want %v", got, tt.want)
			}
		})
	}
}
