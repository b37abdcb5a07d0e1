package outbox

import (
	"context"
	"errors"
	"fmt"
	"go.etcd.io/bbolt"
	"sort"
)

// Import re-queues an event salvaged from a damaged file: same type, id,
// time, body and dedupe key, and one pending delivery per endpoint still
// owed it, with the random id it had there, so that a receiver which had
// in fact received it de-duplicates it. An endpoint that is no longer
// configured keeps its delivery parked, as for a removed endpoint. It
// reports false if the event's dedupe key is already in this outbox (the
// agent read the same SMS again from the SIM, say).
func (o *Outbox) Import(ctx context.Context, s Salvageable) (bool, error) {
	rec := s.Event
	if !rec.Type.Valid() || len(rec.Body) == 0 {
		return false, errors.New("outbox: import: not an event")
	}
	if len(s.Pending) == 0 {
		return false, errors.New("outbox: import: no endpoint is owed the event")
	}
	p := enqueuePlan{
		ev: Event{Type: rec.Type, Phone: rec.Phone, DedupeKey: rec.DedupeKey, Time: rec.Time, LocalTimes: rec.LocalTimes,
			Body: func(uint64) ([]byte, error) { return rec.Body, nil }},
		now:    o.opts.Clock.Now(),
		keepID: rec.ID,
	}
	for ep := range s.Pending {
		p.targets = append(p.targets, ep)
	}
	sort.Strings(p.targets)
	for _, ep := range p.targets {
		p.randomIDs = append(p.randomIDs, s.Pending[ep])
	}
	if rec.Unsynced {
		p.stamp = func(e *eventRecord) { e.Unsynced, e.Boot, e.SinceBoot = true, rec.Boot, rec.SinceBoot }
	}
	o.mu.Lock()
	p.offlineTotals = o.offlineTotals(p.targets, p.now)
	o.mu.Unlock()
	var res Enqueued
	err := o.commit(ctx, func(tx *bbolt.Tx) error {
		var err error
		res, err = p.store(tx)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("outbox: import event %d: %w", rec.Seq, err)
	}
	if res.Duplicate {
		return false, nil
	}
	o.metrics.add("enqueued", string(rec.Type), "", 1)
	o.mu.Lock()
	o.queued(p.targets)
	o.mu.Unlock()
	o.Kick()
	return true, nil
}
