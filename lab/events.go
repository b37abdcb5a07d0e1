package lab

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/simhook/simhook/receiver"
	"github.com/simhook/simhook/webhook"
)

// eventLog keeps every event the receiver accepted and wakes waiters.
type eventLog struct {
	mu       sync.Mutex
	accepted []*webhook.Event
	byType   map[webhook.Type]int
	rejected []receiver.Verdict
	changed  chan struct{} // closed and replaced on every change
}

func newEventLog() *eventLog {
	return &eventLog{byType: make(map[webhook.Type]int), changed: make(chan struct{})}
}

// record is the receiver's OnEvent hook.
func (e *eventLog) record(v receiver.Verdict) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch v.Outcome {
	case receiver.Accepted:
		if v.Event != nil {
			e.accepted = append(e.accepted, v.Event)
			e.byType[v.Event.Type]++
		}
	case receiver.Rejected:
		e.rejected = append(e.rejected, v)
	}
	close(e.changed)
	e.changed = make(chan struct{})
}

// Events returns the events the receiver accepted (verified, fresh and not
// duplicates), in arrival order.
func (l *Lab) Events() []*webhook.Event {
	l.events.mu.Lock()
	defer l.events.mu.Unlock()
	return append([]*webhook.Event(nil), l.events.accepted...)
}

// EventsOf returns the accepted events of one type.
func (l *Lab) EventsOf(t webhook.Type) []*webhook.Event {
	var out []*webhook.Event
	for _, ev := range l.Events() {
		if ev.Type == t {
			out = append(out, ev)
		}
	}
	return out
}

// Count returns how many events of type t the receiver accepted.
func (l *Lab) Count(t webhook.Type) int {
	l.events.mu.Lock()
	defer l.events.mu.Unlock()
	return l.events.byType[t]
}

// Rejected returns the requests the receiver refused. A healthy agent
// causes none.
func (l *Lab) Rejected() []receiver.Verdict {
	l.events.mu.Lock()
	defer l.events.mu.Unlock()
	return append([]receiver.Verdict(nil), l.events.rejected...)
}

// WaitEvents waits until the receiver has accepted at least n events of
// type t, or ctx ends.
func (l *Lab) WaitEvents(ctx context.Context, t webhook.Type, n int) error {
	return l.WaitFor(ctx, func() bool { return l.Count(t) >= n }, fmt.Sprintf("%d %s", n, t))
}

// WaitFor waits until cond holds; cond is re-evaluated after every request
// the receiver judges. what names the wait in the error.
func (l *Lab) WaitFor(ctx context.Context, cond func() bool, what string) error {
	for {
		l.events.mu.Lock()
		changed := l.events.changed
		l.events.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// gate lets requests through to a handler, or answers 503 while closed,
// and counts requests by URL path.
type gate struct {
	mu    sync.RWMutex
	open  bool
	paths map[string]int
}

func newGate() *gate { return &gate{open: true, paths: make(map[string]int)} }

// Paths returns how many requests reached each URL path of the receiver.
func (l *Lab) Paths() map[string]int {
	l.gate.mu.RLock()
	defer l.gate.mu.RUnlock()
	out := make(map[string]int, len(l.gate.paths))
	for k, v := range l.gate.paths {
		out[k] = v
	}
	return out
}

func (g *gate) set(open bool) {
	g.mu.Lock()
	g.open = open
	g.mu.Unlock()
}

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		open := g.open
		g.paths[r.URL.Path]++
		g.mu.Unlock()
		if !open {
			http.Error(w, "receiver down for maintenance", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}
