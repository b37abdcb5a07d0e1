package outbox

import (
	"sync"
	"time"
)

// metricsState holds cumulative counters since Open.
type metricsState struct {
	mu sync.Mutex
	m  map[metricKey]uint64
}

type metricKey struct{ name, a, b string }

func (s *metricsState) init() { s.m = make(map[metricKey]uint64) }

func (s *metricsState) add(name, a, b string, n uint64) {
	s.mu.Lock()
	s.m[metricKey{name, a, b}] += n
	s.mu.Unlock()
}

// Outcome classes of a delivery attempt.
const (
	OutcomeDelivered   = "delivered"    // 2xx
	OutcomeRetry       = "retry"        // 408, 429, 5xx: backed off
	OutcomeNetwork     = "network"      // no answer though the endpoint answered another request meanwhile
	OutcomeOffline     = "offline"      // no answer (refused, DNS, timeout): the endpoint is unreachable; not counted
	OutcomeClientError = "client_error" // other 4xx (and 3xx): a few more tries
	OutcomeDead        = "dead"         // out of retries
	OutcomeDisabled    = "disabled"     // 410 Gone: the endpoint is disabled
)

// Metrics are the outbox's cumulative counters since Open.
type Metrics struct {
	// Enqueued counts new events by type; Duplicates enqueues absorbed by a
	// dedupe key; EnqueueErrors failed enqueues (e.g. a full disk).
	Enqueued      map[string]uint64 `json:"enqueued"`
	Duplicates    uint64            `json:"duplicates"`
	EnqueueErrors uint64            `json:"enqueue_errors"`
	// Deliveries counts attempt outcomes by endpoint, then outcome class.
	Deliveries map[string]map[string]uint64 `json:"deliveries"`
	// Attempts counts requests sent.
	Attempts uint64 `json:"attempts"`
	// Offline reports whether the network is considered down (every
	// endpoint unreachable), and OfflineTotal how long it has been down in
	// all (since the file was made). Each endpoint's own unreachable time is
	// what spares its deliveries' retry budgets (see Stats).
	Offline      bool          `json:"offline"`
	OfflineTotal time.Duration `json:"offline_total_ns"`
	// TimeSyncHold reports that sending is held for an unsynchronised clock.
	TimeSyncHold bool `json:"time_sync_hold"`
	// ClockUnknown counts the times the clock guard could not tell whether
	// the clock is synchronised (each such episode once); ClockRebased
	// counts events whose pre-sync time was re-based.
	ClockUnknown uint64 `json:"clock_unknown"`
	ClockRebased uint64 `json:"clock_rebased"`
	// Damaged counts outbox files found damaged and moved aside when this
	// outbox was opened.
	Damaged uint64 `json:"damaged"`
}

// Metrics returns a snapshot of the counters.
func (o *Outbox) Metrics() Metrics {
	m := Metrics{Enqueued: map[string]uint64{}, Deliveries: map[string]map[string]uint64{}}
	o.metrics.mu.Lock()
	for k, v := range o.metrics.m {
		switch k.name {
		case "enqueued":
			m.Enqueued[k.a] += v
		case "duplicates":
			m.Duplicates += v
		case "enqueue_errors":
			m.EnqueueErrors += v
		case "attempts":
			m.Attempts += v
		case "clock_unknown":
			m.ClockUnknown += v
		case "clock_rebased":
			m.ClockRebased += v
		case "damaged":
			m.Damaged += v
		case "outcome":
			if m.Deliveries[k.a] == nil {
				m.Deliveries[k.a] = map[string]uint64{}
			}
			m.Deliveries[k.a][k.b] += v
		}
	}
	o.metrics.mu.Unlock()
	now := o.opts.Clock.Now()
	o.mu.Lock()
	m.Offline = o.offline.offline
	m.OfflineTotal = o.offline.totalAt(now)
	o.mu.Unlock()
	m.TimeSyncHold, _ = o.holding()
	return m
}

// offlineState tracks whether the network (or one endpoint) is unreachable
// and for how long it has been in all.
type offlineState struct {
	offline bool
	since   time.Time
	total   time.Duration
}

func (s *offlineState) totalAt(now time.Time) time.Duration {
	if s.offline {
		return s.total + max(now.Sub(s.since), 0) // the clock may have gone back
	}
	return s.total
}

func (s *offlineState) start(now time.Time) {
	if !s.offline {
		s.offline, s.since = true, now
	}
}

func (s *offlineState) end(now time.Time) {
	if s.offline {
		s.total += max(now.Sub(s.since), 0)
		s.offline = false
	}
}
