package outbox

import (
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// An endpoint is unreachable from a failure at the transport level (refused,
// DNS, a timeout before an answer) until it answers again, with any status.
// Meanwhile only probes go out to it, one at a time: the oldest delivery,
// sent early. The first comes about ProbeFirst after the failure, the next
// ones back off exponentially, with jitter, up to Delivery.ProbeMax; an
// answer resets the backoff. A probe is also due at once when the host's
// network changes (NetworkChanged), when another endpoint answers after
// none did, and at most ProbeFirst after the last one when a new event is
// queued for the endpoint.
//
// The time an endpoint is unreachable is not counted in its deliveries'
// ages, nor are the attempts made meanwhile: each endpoint has its own total
// of unreachable time (in the file, across restarts), which a delivery
// remembers when it is made and whenever it is aged (see retryAge). One
// endpoint's outage thus spends nobody's retry budget, its own included,
// and leaves the others alone. When every endpoint is unreachable the host
// is offline (Metrics.Offline, Stats.Online).

// offlineKeyPrefix prefixes the meta keys of each endpoint's total
// unreachable time; "offline_total" alone is the host's.
const offlineKeyPrefix = "offline_total/"

// reachOf returns the unreachable-time account of the endpoint name,
// made if needed. A name without one starts from the total the host had
// when the file was opened: records written before accounts were kept per
// endpoint measured their offline time against the host's total. o.mu is
// held.
func (o *Outbox) reachOf(name string) *offlineState {
	r := o.reach[name]
	if r == nil {
		r = &offlineState{total: o.offlineBase}
		o.reach[name] = r
	}
	return r
}

// offlineTotalOf returns the endpoint's total unreachable time at now.
func (o *Outbox) offlineTotalOf(name string, now time.Time) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reachOf(name).totalAt(now)
}

// loadReach reads the stored totals, the host's and each endpoint's.
func (o *Outbox) loadReach(tx *bbolt.Tx) {
	meta := tx.Bucket(metaBucket)
	o.offline.total = time.Duration(getU64(meta, "offline_total"))
	o.offlineBase = o.offline.total
	o.reach = make(map[string]*offlineState)
	c := meta.Cursor()
	for k, _ := c.Seek([]byte(offlineKeyPrefix)); k != nil && strings.HasPrefix(string(k), offlineKeyPrefix); k, _ = c.Next() {
		o.reach[string(k[len(offlineKeyPrefix):])] = &offlineState{total: time.Duration(getU64(meta, string(k)))}
	}
}

// saveReach stores the totals at now.
func (o *Outbox) saveReach(tx *bbolt.Tx, now time.Time) error {
	o.mu.Lock()
	totals := map[string]time.Duration{"offline_total": o.offline.totalAt(now)}
	for name, r := range o.reach {
		totals[offlineKeyPrefix+name] = r.totalAt(now)
	}
	o.mu.Unlock()
	meta := tx.Bucket(metaBucket)
	for k, v := range totals {
		if err := putU64(meta, k, uint64(v)); err != nil {
			return err
		}
	}
	return nil
}

// probeFirst is the wait before the first probe of an endpoint.
func (o *Outbox) probeFirst() time.Duration {
	return min(o.opts.ProbeFirst, o.settings().ProbeMax)
}

// probeWait is the wait before probe n+1 of an unreachable endpoint
// (n = 0: the first, after the failure that made it unreachable): from
// ProbeFirst, doubling with each failed probe up to ProbeMax, drawn over
// its upper half.
func (o *Outbox) probeWait(n int) time.Duration {
	return o.backoff(RetryPolicy{Initial: o.probeFirst(), MaxInterval: o.settings().ProbeMax}, n+1)
}

// NetworkChanged tells the outbox that the host's network changed (a link
// came up, an address or a default route was added): every unreachable
// endpoint is probed at once, even if a request to it is still in progress
// (it may hang on the old network until its timeout), and its probe
// backoff starts again.
func (o *Outbox) NetworkChanged() {
	now := o.opts.Clock.Now()
	n := 0
	o.mu.Lock()
	for _, st := range o.endpoints {
		if !st.disabled && st.reach.offline {
			st.nextProbe, st.probes, st.netChanged = now, 0, true
			n++
		}
	}
	o.mu.Unlock()
	if n > 0 {
		o.opts.Logger.Info("network changed: probing the unreachable endpoints", "endpoints", n)
		o.Kick()
	}
}

// ProbeNow tells the outbox that endpoint name can probably be reached
// again (the fleet's server connection came back): if it is unreachable, it
// is probed at once and its probe backoff starts again.
func (o *Outbox) ProbeNow(name string) {
	now := o.opts.Clock.Now()
	o.mu.Lock()
	st := o.endpoints[name]
	probe := st != nil && !st.disabled && st.reach.offline
	if probe {
		st.nextProbe, st.probes, st.netChanged = now, 0, true
	}
	o.mu.Unlock()
	if probe {
		o.Kick()
	}
}

// offlineTotals returns each named endpoint's unreachable time at now, the
// reference a new delivery's age is measured against. o.mu is held.
func (o *Outbox) offlineTotals(names []string, now time.Time) []time.Duration {
	out := make([]time.Duration, len(names))
	for i, name := range names {
		out[i] = o.reachOf(name).totalAt(now)
	}
	return out
}

// queued makes the probe of the unreachable endpoints among names due at
// most ProbeFirst after their last one: a new event is a cheap moment to
// find out whether a receiver is back. o.mu is held.
func (o *Outbox) queued(names []string) {
	for _, name := range names {
		st := o.endpoints[name]
		if st == nil || !st.reach.offline {
			continue
		}
		if t := st.lastProbe.Add(o.probeFirst()); t.Before(st.nextProbe) {
			st.nextProbe = t
		}
	}
}
