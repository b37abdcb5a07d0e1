package outbox

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

// fakePublisher records what an endpoint's Publisher was given, failing
// while down.
type fakePublisher struct {
	mu    sync.Mutex
	down  bool
	calls int
	got   map[string]int // random id → publications accepted
	bad   int            // requests whose signature did not verify
}

func (p *fakePublisher) Publish(_ context.Context, msg webhook.Message, req *http.Request) error {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.down {
		return errors.New("nats: no servers available for connection")
	}
	if webhook.VerifyStandard([]string{testSecret}, req.Header, body, time.Now(), time.Hour) != nil {
		p.bad++
	}
	p.got[msg.RandomID]++
	return nil
}

func (p *fakePublisher) delivered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.got)
}

// TestPublisherEndpoint: an endpoint with a Publisher gets every event's
// signed request through it, not over HTTP; while it fails its events wait
// (the endpoint is unreachable and probed) and none is dead-lettered; each
// is published once it works.
func TestPublisherEndpoint(t *testing.T) {
	t.Parallel()
	pub := &fakePublisher{got: map[string]int{}, down: true}
	o := open(t, Options{})
	ep := Endpoint{
		Endpoint:  webhook.Endpoint{Name: "fleet", URL: "http://fleet.invalid/", Format: "json", Secrets: []string{testSecret}},
		Timeout:   time.Second,
		Retry:     RetryPolicy{Initial: 20 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxAge: time.Hour},
		Publisher: pub,
	}
	if err := o.SetEndpoints([]Endpoint{ep}); err != nil {
		t.Fatal(err)
	}
	run(t, o)
	enqueueN(t, o, 0, 20)
	waitFor(t, 10*time.Second, "failed publications", func() bool {
		pub.mu.Lock()
		defer pub.mu.Unlock()
		return pub.calls >= 3
	})
	if n := pub.delivered(); n != 0 {
		t.Fatalf("%d delivered while the publisher was down", n)
	}
	pub.mu.Lock()
	pub.down = false
	pub.mu.Unlock()
	waitFor(t, 20*time.Second, "every event published", func() bool { return pub.delivered() == 20 })
	pub.mu.Lock()
	for id, n := range pub.got {
		if n != 1 {
			t.Errorf("event %s published %d times", id, n)
		}
	}
	bad := pub.bad
	pub.mu.Unlock()
	if bad != 0 {
		t.Errorf("%d publications without a valid signature", bad)
	}
	// The outcomes commit a moment after the publications.
	waitFor(t, 10*time.Second, "20 deliveries recorded, none dead", func() bool {
		st, err := o.Stats()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range st.Endpoints {
			if e.Name == "fleet" {
				if e.Dead != 0 {
					t.Fatalf("fleet endpoint stats %+v: dead letters", e)
				}
				return e.Delivered == 20
			}
		}
		return false
	})
}
