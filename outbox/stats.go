package outbox

import (
	"bytes"
	"encoding/binary"
	"sort"
	"time"

	"go.etcd.io/bbolt"
)

// Stats describes the queue now.
type Stats struct {
	// Online is false while the network is considered down: no endpoint
	// answers.
	Online bool `json:"online"`
	// TimeSyncHold reports that sending waits for the clock to synchronise.
	TimeSyncHold bool `json:"time_sync_hold"`
	// Clock is what the clock guard knows, and from where.
	Clock ClockState `json:"clock"`
	// Damaged lists earlier outbox files found damaged and moved aside.
	Damaged []Damaged `json:"damaged,omitempty"`
	// Events is how many events the file holds, and EventsByType the same
	// by type.
	Events       int            `json:"events"`
	EventsByType map[string]int `json:"events_by_type"`
	// Endpoints are the configured endpoints, and any with parked
	// deliveries.
	Endpoints []EndpointStats `json:"endpoints"`
}

// EndpointStats describes one endpoint's queue.
type EndpointStats struct {
	Name string `json:"name"`
	// Configured is false for a removed endpoint whose deliveries are parked.
	Configured bool `json:"configured"`
	// Disabled is true after a 410 Gone, until EnableEndpoint.
	Disabled bool `json:"disabled"`
	// Pending is how many deliveries wait; Dead how many were dead-lettered
	// and not purged.
	Pending int `json:"pending"`
	Dead    int `json:"dead"`
	// Delivered is how many delivered deliveries the file still holds
	// (until retention prunes them).
	Delivered int `json:"delivered"`
	// OldestPending is the age of the oldest pending delivery.
	OldestPending time.Duration `json:"oldest_pending_ns"`
	// Failing counts consecutive failed attempts.
	Failing int `json:"failing"`
	// Unreachable is true from a failure at the transport level until the
	// endpoint answers again; only probes go out meanwhile, and the time is
	// not counted in its deliveries' ages.
	Unreachable bool `json:"unreachable"`
}

// Stats reads the running counters and one record per endpoint and reports per endpoint.
func (o *Outbox) Stats() (Stats, error) {
	now := o.opts.Clock.Now()
	o.mu.Lock()
	st := Stats{Online: !o.offline.offline}
	by := make(map[string]*EndpointStats)
	for name, e := range o.endpoints {
		by[name] = &EndpointStats{Name: name, Configured: true, Disabled: e.disabled, Failing: e.failing, Unreachable: e.reach.offline}
	}
	o.mu.Unlock()
	st.TimeSyncHold, st.Clock = o.holding()
	if d, err := o.DamagedFiles(); err == nil {
		st.Damaged = d
	}
	get := func(name string) *EndpointStats {
		if by[name] == nil {
			by[name] = &EndpointStats{Name: name}
		}
		return by[name]
	}
	err := o.db.View(func(tx *bbolt.Tx) error {
		cv := counts(tx)
		st.Events, st.EventsByType = cv.events, cv.byType
		for name, n := range cv.pending {
			get(name).Pending = n
		}
		for name, n := range cv.dead {
			get(name).Dead = n
		}
		for name, n := range cv.delivered {
			get(name).Delivered = n
		}
		// The pending index is ordered by endpoint, then age: the first key
		// of each endpoint is its oldest delivery.
		c := tx.Bucket(pendingBucket).Cursor()
		for name, e := range by {
			if e.Pending == 0 {
				continue
			}
			prefix := duePrefix(name)
			k, _ := c.Seek(prefix)
			if k == nil || !bytes.HasPrefix(k, prefix) {
				continue
			}
			seq, ok := pendingKeySeq(k)
			if !ok {
				continue
			}
			if d, ok, err := getDelivery(tx, seq, name); err == nil && ok {
				e.OldestPending = now.Sub(d.Created)
			}
		}
		return nil
	})
	for _, e := range by {
		st.Endpoints = append(st.Endpoints, *e)
	}
	sort.Slice(st.Endpoints, func(i, j int) bool { return st.Endpoints[i].Name < st.Endpoints[j].Name })
	return st, err
}

// seqOf reads the sequence number at the start of a deliveries key.
func seqOf(k []byte) uint64 { return binary.BigEndian.Uint64(k[:8]) }

// hasSeqPrefix reports whether a deliveries key belongs to seq.
func hasSeqPrefix(k []byte, seq uint64) bool { return bytes.HasPrefix(k, u64(seq)) }
