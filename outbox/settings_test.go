package outbox

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

// TestSetDeliveryConcurrencyLive: the number of requests in flight follows
// a concurrency set while the dispatcher runs, down and up.
func TestSetDeliveryConcurrencyLive(t *testing.T) {
	t.Parallel()
	var inflight, peak atomic.Int32
	var served atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		inflight.Add(-1)
		served.Add(1)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	o := open(t, Options{Concurrency: 4})
	ep := Endpoint{Endpoint: webhook.Endpoint{Name: "e", URL: srv.URL, Secrets: []string{testSecret}},
		Timeout: 10 * time.Second, Retry: RetryPolicy{Initial: time.Second, MaxInterval: time.Second, MaxAge: time.Hour, ClientErrorAttempts: 3}}
	if err := o.SetEndpoints([]Endpoint{ep}); err != nil {
		t.Fatal(err)
	}
	o.SetDelivery(Delivery{Concurrency: 1, RequireTimeSync: false, Retention: time.Hour})
	run(t, o)
	enqueueN(t, o, 0, 40)
	waitFor(t, 10*time.Second, "a request in flight", func() bool { return inflight.Load() == 1 })
	// Let requests through one at a time for a while: never two at once.
	for range 5 {
		release <- struct{}{}
	}
	waitFor(t, 10*time.Second, "the next request", func() bool { return inflight.Load() == 1 })
	if p := peak.Load(); p != 1 {
		t.Fatalf("peak %d requests in flight with concurrency 1", p)
	}
	o.SetDelivery(Delivery{Concurrency: 3, Retention: time.Hour})
	release <- struct{}{} // the dispatcher wakes and fills the new slots
	waitFor(t, 10*time.Second, "three requests in flight", func() bool { return inflight.Load() == 3 })
	if got := o.Delivery(); got.Concurrency != 3 || got.Retention != time.Hour {
		t.Errorf("settings %+v", got)
	}
	close(release)
	waitFor(t, 10*time.Second, "every event", func() bool { return served.Load() == 40 })
	if p := peak.Load(); p > 3 {
		t.Errorf("peak %d requests in flight with concurrency 3", p)
	}
}
