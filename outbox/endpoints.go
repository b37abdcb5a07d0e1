package outbox

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/simhook/simhook/webhook"
	"go.etcd.io/bbolt"
)

// Endpoint is a delivery target with its routing and retry policy.
type Endpoint struct {
	webhook.Endpoint
	// Events the endpoint wants; empty means all five types.
	Events []webhook.Type
	// Phones whose events it wants; empty means every phone.
	Phones []int
	// Timeout bounds each request (default 15s).
	Timeout time.Duration
	Retry   RetryPolicy
	// Publisher, when set, delivers the endpoint's requests instead of
	// HTTP (the fleet's events stream); the URL is then only a label.
	Publisher Publisher
}

// Publisher delivers a signed request somewhere other than over HTTP. msg
// is the event; req is the request the endpoint's encoder built for it,
// whose body and headers (both signatures) are what to deliver. A nil
// error is a delivery. Any error counts as a network failure: the endpoint
// is unreachable, its events wait, and it is probed, as an HTTP endpoint
// that does not answer.
type Publisher interface {
	Publish(ctx context.Context, msg webhook.Message, req *http.Request) error
}

// RetryPolicy schedules retries of one endpoint.
type RetryPolicy struct {
	// Initial is the first backoff (default 5s); it doubles per attempt up
	// to MaxInterval (default 1h).
	Initial, MaxInterval time.Duration
	// MaxAge is how long an event is retried before it is dead (default
	// 168h). Time spent offline does not count.
	MaxAge time.Duration
	// ClientErrorAttempts is how many 4xx answers (other than 408, 410 and
	// 429) dead-letter a delivery (default 5).
	ClientErrorAttempts int
}

func (r RetryPolicy) withDefaults() RetryPolicy {
	if r.Initial <= 0 {
		r.Initial = 5 * time.Second
	}
	if r.MaxInterval <= 0 {
		r.MaxInterval = time.Hour
	}
	if r.MaxInterval < r.Initial {
		r.MaxInterval = r.Initial
	}
	if r.MaxAge <= 0 {
		r.MaxAge = 168 * time.Hour
	}
	if r.ClientErrorAttempts <= 0 {
		r.ClientErrorAttempts = 5
	}
	return r
}

// endpointState is a configured endpoint and how it is doing.
type endpointState struct {
	ep        Endpoint
	enc       *webhook.Encoder
	disabled  bool // answered 410 Gone
	failing   int  // consecutive failed attempts
	drain     bool // an answer came back after failures: send everything now
	nextProbe time.Time
	// reach accounts for the time it is unreachable (see reach.go); it is
	// the Outbox's account for its name, kept when the endpoint changes.
	reach *offlineState
	// probes counts the failed probes since it became unreachable, and
	// lastProbe is when the last one left.
	probes    int
	lastProbe time.Time
	// netChanged allows one probe while a request is in progress: the
	// host's network changed since (see NetworkChanged).
	netChanged bool
	// lastAnswer is when it last answered (any status).
	lastAnswer time.Time
	// activeAt is when it last had something to send, or was configured
	// (see reserveFor).
	activeAt time.Time
}

// wants reports whether the endpoint subscribes to an event.
func (e Endpoint) wants(t webhook.Type, phone int) bool {
	if len(e.Events) > 0 && !slices.Contains(e.Events, t) {
		return false
	}
	if len(e.Phones) > 0 && phone != 0 && !slices.Contains(e.Phones, phone) {
		return false
	}
	return true
}

// SetEndpoints installs the endpoint set (hot reload). Queued deliveries are
// kept: a changed URL or secret applies from the next attempt; the pending
// deliveries of a removed endpoint are parked, neither sent nor lost, and
// resume if an endpoint of that name returns; a new endpoint receives the
// events enqueued from now on.
func (o *Outbox) SetEndpoints(eps []Endpoint) error {
	states := make(map[string]*endpointState, len(eps))
	for _, ep := range eps {
		if ep.Name == "" {
			return fmt.Errorf("outbox: an endpoint has no name")
		}
		if _, dup := states[ep.Name]; dup {
			return fmt.Errorf("outbox: endpoint %q twice", ep.Name)
		}
		if ep.Timeout <= 0 {
			ep.Timeout = 15 * time.Second
		}
		ep.Retry = ep.Retry.withDefaults()
		enc, err := webhook.NewEncoder(ep.Endpoint)
		if err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		states[ep.Name] = &endpointState{ep: ep, enc: enc}
	}
	disabled := make(map[string]bool)
	err := o.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(metaBucket).ForEach(func(k, _ []byte) error {
			if name, ok := cutPrefix(k, "disabled/"); ok {
				disabled[name] = true
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	o.mu.Lock()
	for name, st := range states {
		if old, ok := o.endpoints[name]; ok {
			st.failing, st.drain, st.nextProbe = old.failing, old.drain, old.nextProbe
			st.lastAnswer, st.activeAt = old.lastAnswer, old.activeAt
			st.probes, st.lastProbe, st.netChanged = old.probes, old.lastProbe, old.netChanged
		} else {
			// New, or back after a removal: whatever was parked for it goes
			// out now, oldest first (a drain of nothing ends at once). It
			// has a slot reserved for a while, as if it had just sent.
			st.drain = true
			st.activeAt = o.opts.Clock.Now()
		}
		st.disabled = disabled[name]
		st.reach = o.reachOf(name)
	}
	o.endpoints = states
	o.mu.Unlock()
	o.Kick()
	return nil
}

func cutPrefix(k []byte, prefix string) (string, bool) {
	if len(k) < len(prefix) || string(k[:len(prefix)]) != prefix {
		return "", false
	}
	return string(k[len(prefix):]), true
}
