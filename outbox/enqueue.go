package outbox

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/simhook/simhook/webhook"
	"go.etcd.io/bbolt"
)

// Event is what the agent enqueues.
type Event struct {
	Type webhook.Type
	// Phone is the phone the event concerns, for endpoint phone filters (0:
	// none).
	Phone int
	// DedupeKey identifies the event's source (e.g. the SMS's PDUs). A second
	// Enqueue with the same key within Retention stores nothing and returns
	// the first event with Duplicate set. Empty means no de-duplication.
	DedupeKey string
	// Time is when the event happened (webhook_timestamp); zero means now.
	Time time.Time
	// LocalTimes names the top-level body fields holding dates the agent
	// took from the system clock (not from the network). If the event is
	// made before the clock synchronised, they move with Time when it is
	// re-based.
	LocalTimes []string
	// Body renders the JSON body given the event's id (the next value of its
	// type's sequence: increasing, never reused). It runs inside the
	// transaction; it must not have side effects, since it runs again if
	// another write of the same group transaction fails after writing.
	Body func(id uint64) ([]byte, error)
	// Also, if set, runs in the same transaction after the event is stored,
	// so the agent's own records change atomically with it. An error aborts
	// this event only (the others of its group transaction are rolled back
	// and run again, so Also must write only through tx).
	Also func(tx *bbolt.Tx, id uint64) error
}

// Enqueued is the result of an Enqueue.
type Enqueued struct {
	// ID is the event's id within its type.
	ID uint64
	// Seq orders every event of the outbox.
	Seq uint64
	// Duplicate reports that the DedupeKey was already in the outbox; ID and
	// Seq are then the first event's.
	Duplicate bool
}

// Enqueue durably commits ev and one pending delivery per subscribed
// endpoint, then returns. On any error (a full disk included) nothing of ev
// is stored, and the caller must keep the event's source.
func (o *Outbox) Enqueue(ctx context.Context, ev Event) (Enqueued, error) {
	if err := ctx.Err(); err != nil {
		return Enqueued{}, err
	}
	p, err := o.plan(ev)
	if err != nil {
		return Enqueued{}, err
	}
	var res Enqueued
	err = o.commit(ctx, func(tx *bbolt.Tx) error {
		var err error
		res, err = p.store(tx)
		return err
	})
	if err != nil {
		o.metrics.add("enqueue_errors", "", "", 1)
		return Enqueued{}, fmt.Errorf("outbox: enqueue %s: %w", ev.Type, err)
	}
	if res.Duplicate {
		o.metrics.add("duplicates", string(ev.Type), "", 1)
		return res, nil
	}
	o.metrics.add("enqueued", string(ev.Type), "", 1)
	o.mu.Lock()
	o.queued(p.targets)
	o.mu.Unlock()
	o.Kick()
	return res, nil
}

// appendFill is the page fill of the buckets whose keys are appended.
const appendFill = 0.9

// enqueuePlan is an event ready to be stored: its targets and their random
// ids are chosen outside the transaction.
type enqueuePlan struct {
	ev        Event
	now       time.Time
	targets   []string
	randomIDs []string
	// offlineTotals are the targets' unreachable times (see reachOf).
	offlineTotals []time.Duration
	// stamp, if set, marks the record as made before the clock synchronised.
	stamp func(*eventRecord)
	// keepID, if set, is the event's id (an event salvaged from another
	// file keeps the id its body carries).
	keepID uint64
}

// plan checks ev and chooses its deliveries.
func (o *Outbox) plan(ev Event) (enqueuePlan, error) {
	if !ev.Type.Valid() {
		return enqueuePlan{}, fmt.Errorf("outbox: unknown event type %q", ev.Type)
	}
	if ev.Body == nil {
		return enqueuePlan{}, errors.New("outbox: event without a body")
	}
	now := o.opts.Clock.Now()
	if ev.Time.IsZero() {
		ev.Time = now
	}
	p := enqueuePlan{ev: ev, now: now}
	if st := o.clockState(); !st.Known || !st.Synced {
		p.stamp = func(rec *eventRecord) { o.stampUnsynced(rec, now) }
	}
	o.mu.Lock()
	for name, st := range o.endpoints {
		if st.ep.wants(ev.Type, ev.Phone) {
			p.targets = append(p.targets, name)
		}
	}
	sort.Strings(p.targets)
	p.offlineTotals = o.offlineTotals(p.targets, now)
	o.mu.Unlock()
	p.randomIDs = make([]string, len(p.targets))
	for i := range p.targets {
		id, err := webhook.NewRandomID(ev.Time.Unix())
		if err != nil {
			return enqueuePlan{}, fmt.Errorf("outbox: %w", err)
		}
		p.randomIDs[i] = id
	}
	return p, nil
}

// store writes the planned event in tx. A failure before the first write is
// a cleanFailure.
func (p *enqueuePlan) store(tx *bbolt.Tx) (Enqueued, error) {
	ev, now := p.ev, p.now
	dedupe := tx.Bucket(dedupeBucket)
	if ev.DedupeKey != "" {
		if v := dedupe.Get([]byte(ev.DedupeKey)); len(v) >= 16 {
			return Enqueued{Seq: binary.BigEndian.Uint64(v), ID: binary.BigEndian.Uint64(v[8:]), Duplicate: true}, nil
		}
	}
	ids := tx.Bucket(idsBucket).Bucket([]byte(ev.Type))
	if ids == nil {
		return Enqueued{}, cleanFailure{fmt.Errorf("no id sequence for %s", ev.Type)}
	}
	events := tx.Bucket(eventsBucket)
	// Render first: a body that fails leaves the group's transaction
	// untouched, so the other writers of the group are not disturbed.
	id, seq := ids.Sequence()+1, events.Sequence()+1
	if p.keepID > 0 {
		id = p.keepID
	}
	body, err := ev.Body(id)
	if err != nil {
		return Enqueued{}, cleanFailure{fmt.Errorf("rendering the %s body: %w", ev.Type, err)}
	}
	if !json.Valid(body) {
		return Enqueued{}, cleanFailure{fmt.Errorf("the %s body is not valid JSON", ev.Type)}
	}
	er := eventRecord{Seq: seq, Type: ev.Type, ID: id, Phone: ev.Phone, Time: ev.Time, DedupeKey: ev.DedupeKey, Body: body}
	if p.stamp != nil {
		p.stamp(&er)
		er.LocalTimes = ev.LocalTimes
	}
	rec, err := json.Marshal(er)
	if err != nil {
		return Enqueued{}, cleanFailure{err}
	}
	if err := ids.SetSequence(max(ids.Sequence(), id)); err != nil {
		return Enqueued{}, err
	}
	if err := events.SetSequence(seq); err != nil {
		return Enqueued{}, err
	}
	// Keys only ever grow at the end of these buckets: pack their pages
	// (bbolt's default leaves split pages half empty).
	events.FillPercent = appendFill
	tx.Bucket(deliveriesBucket).FillPercent = appendFill
	tx.Bucket(pendingBucket).FillPercent = appendFill
	if err := events.Put(u64(seq), rec); err != nil {
		return Enqueued{}, err
	}
	if err := addCount(tx, "events", 1); err != nil {
		return Enqueued{}, err
	}
	if err := addCount(tx, "type/"+string(ev.Type), 1); err != nil {
		return Enqueued{}, err
	}
	for i, name := range p.targets {
		d := deliveryRecord{Endpoint: name, RandomID: p.randomIDs[i], State: StatePending, NextDue: now, Created: now, OfflineAtCreate: p.offlineTotals[i]}
		if err := putDelivery(tx, seq, d); err != nil {
			return Enqueued{}, err
		}
		if err := putPending(tx, name, now, seq); err != nil {
			return Enqueued{}, err
		}
	}
	if len(p.targets) == 0 {
		// No endpoint wants it: finished as it is stored.
		if err := fileFinished(tx, seq, now); err != nil {
			return Enqueued{}, err
		}
	}
	if ev.DedupeKey != "" {
		v := binary.BigEndian.AppendUint64(u64(seq), id)
		v = binary.BigEndian.AppendUint64(v, uint64(now.Unix()))
		if err := dedupe.Put([]byte(ev.DedupeKey), v); err != nil {
			return Enqueued{}, err
		}
		age := tx.Bucket(dedupeAgeBucket)
		age.FillPercent = appendFill
		if err := age.Put(dedupeAgeKey(now, ev.DedupeKey), nil); err != nil {
			return Enqueued{}, err
		}
	}
	if ev.Also != nil {
		if err := ev.Also(tx, id); err != nil {
			return Enqueued{}, err
		}
	}
	return Enqueued{ID: id, Seq: seq}, nil
}

// putDelivery stores a delivery record.
func putDelivery(tx *bbolt.Tx, seq uint64, d deliveryRecord) error {
	v, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return tx.Bucket(deliveriesBucket).Put(deliveryKey(seq, d.Endpoint), v)
}

// getDelivery loads a delivery record.
func getDelivery(tx *bbolt.Tx, seq uint64, endpoint string) (deliveryRecord, bool, error) {
	var d deliveryRecord
	v := tx.Bucket(deliveriesBucket).Get(deliveryKey(seq, endpoint))
	if v == nil {
		return d, false, nil
	}
	err := json.Unmarshal(v, &d)
	return d, err == nil, err
}

// getEvent loads an event record.
func getEvent(tx *bbolt.Tx, seq uint64) (eventRecord, bool, error) {
	var e eventRecord
	v := tx.Bucket(eventsBucket).Get(u64(seq))
	if v == nil {
		return e, false, nil
	}
	err := json.Unmarshal(v, &e)
	return e, err == nil, err
}
