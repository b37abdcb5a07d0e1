package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/simhook/simhook/internal/redact"
	"github.com/simhook/simhook/webhook"
	"go.etcd.io/bbolt"
)

// ErrNotFound means no event has the given sequence number.
var ErrNotFound = errors.New("outbox: no such event")

// DeliveryInfo is one delivery as the CLI shows it.
type DeliveryInfo struct {
	Seq         uint64       `json:"seq"`
	Type        webhook.Type `json:"type"`
	ID          uint64       `json:"id"`
	Endpoint    string       `json:"endpoint"`
	State       string       `json:"state"`
	RandomID    string       `json:"random_id"`
	Attempts    int          `json:"attempts"`
	NextDue     time.Time    `json:"next_due,omitzero"`
	LastStatus  int          `json:"last_status,omitempty"`
	LastError   string       `json:"last_error,omitempty"`
	LastAttempt time.Time    `json:"last_attempt,omitzero"`
	Created     time.Time    `json:"created"`
}

// EventInfo is one event with its body and every delivery.
type EventInfo struct {
	Seq        uint64          `json:"seq"`
	Type       webhook.Type    `json:"type"`
	ID         uint64          `json:"id"`
	Phone      int             `json:"phone,omitempty"`
	Time       time.Time       `json:"time"`
	Body       json.RawMessage `json:"body"`
	Deliveries []DeliveryInfo  `json:"deliveries"`
}

// ListFilter selects deliveries; zero fields match everything.
type ListFilter struct {
	State    string // pending, delivered, dead or disabled-endpoint
	Endpoint string
	Type     webhook.Type
	Limit    int
}

// List streams the deliveries matching f, oldest first, without loading the
// backlog into memory. fn runs inside a read transaction: it should be quick
// (a long read transaction delays the file's growth for writers), it must
// not call the Outbox (a second read transaction in the same goroutine
// deadlocks against a writer that waits to grow the file), and it may end
// the walk early by returning an error.
func (o *Outbox) List(f ListFilter, fn func(DeliveryInfo) error) error {
	disabled := o.disabledSet()
	n := 0
	return o.db.View(func(tx *bbolt.Tx) error {
		deliveries := tx.Bucket(deliveriesBucket)
		// Dead deliveries have their own index: walk it rather than every
		// delivery.
		viaDead := f.State == StateDead
		c := deliveries.Cursor()
		if viaDead {
			c = tx.Bucket(deadBucket).Cursor()
		}
		var ev eventRecord
		var evSeq uint64
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) <= 8 || f.Endpoint != "" && string(k[8:]) != f.Endpoint {
				continue
			}
			if viaDead {
				if v = deliveries.Get(k); v == nil {
					continue
				}
			}
			var d deliveryRecord
			if json.Unmarshal(v, &d) != nil {
				continue
			}
			seq := seqOf(k)
			state := d.State
			if state == StatePending && disabled[d.Endpoint] {
				state = StateDisabled
			}
			if f.State != "" && f.State != state || f.Endpoint != "" && f.Endpoint != d.Endpoint {
				continue
			}
			if seq != evSeq {
				e, ok, err := getEvent(tx, seq)
				if err != nil || !ok {
					continue
				}
				ev, evSeq = e, seq
			}
			if f.Type != "" && f.Type != ev.Type {
				continue
			}
			if err := fn(info(ev, d, state)); err != nil {
				if errors.Is(err, errStop) {
					return nil
				}
				return err
			}
			if n++; f.Limit > 0 && n >= f.Limit {
				return nil
			}
		}
		return nil
	})
}

func info(ev eventRecord, d deliveryRecord, state string) DeliveryInfo {
	di := DeliveryInfo{Seq: ev.Seq, Type: ev.Type, ID: ev.ID, Endpoint: d.Endpoint, State: state, RandomID: d.RandomID,
		Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: redact.String(d.LastError), LastAttempt: d.LastAttempt, Created: d.Created}
	if d.State == StatePending {
		di.NextDue = d.NextDue
	}
	return di
}

// disabledSet reads which endpoints are disabled.
func (o *Outbox) disabledSet() map[string]bool {
	out := make(map[string]bool)
	_ = o.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(metaBucket).ForEach(func(k, _ []byte) error {
			if name, ok := cutPrefix(k, "disabled/"); ok {
				out[name] = true
			}
			return nil
		})
	})
	return out
}

// Show returns one event by sequence number.
func (o *Outbox) Show(seq uint64) (EventInfo, error) {
	disabled := o.disabledSet()
	var out EventInfo
	err := o.db.View(func(tx *bbolt.Tx) error {
		ev, ok, err := getEvent(tx, seq)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %d", ErrNotFound, seq)
		}
		out = EventInfo{Seq: ev.Seq, Type: ev.Type, ID: ev.ID, Phone: ev.Phone, Time: ev.Time, Body: ev.Body}
		c := tx.Bucket(deliveriesBucket).Cursor()
		for k, v := c.Seek(u64(seq)); k != nil && hasSeqPrefix(k, seq); k, v = c.Next() {
			var d deliveryRecord
			if json.Unmarshal(v, &d) == nil {
				state := d.State
				if state == StatePending && disabled[d.Endpoint] {
					state = StateDisabled
				}
				out.Deliveries = append(out.Deliveries, info(ev, d, state))
			}
		}
		return nil
	})
	return out, err
}

// RetrySelector chooses dead deliveries to send again: one event (Seq), all
// dead ones (AllDead), or all dead ones of an endpoint.
type RetrySelector struct {
	Seq      uint64
	AllDead  bool
	Endpoint string
}

// Retry puts the selected dead deliveries back to pending, due now, with a
// fresh retry budget (attempts and age start again), and returns how many.
// Selecting an endpoint also re-enables it if a 410 disabled it (its
// deliveries then go out again; they are not counted). An empty selector
// selects nothing. It works in bounded transactions.
func (o *Outbox) Retry(sel RetrySelector) (int, error) {
	if sel.Seq == 0 && !sel.AllDead && sel.Endpoint == "" {
		return 0, nil
	}
	if sel.Endpoint != "" && o.disabledSet()[sel.Endpoint] {
		if err := o.EnableEndpoint(sel.Endpoint); err != nil {
			return 0, err
		}
	}
	now := o.opts.Clock.Now()
	n, err := o.eachDead(sel, func(tx *bbolt.Tx, k []byte) error {
		seq, name := seqOf(k), string(k[8:])
		offTotal := o.offlineTotalOf(name, now)
		d, ok, err := getDelivery(tx, seq, name)
		if err != nil || !ok {
			return err
		}
		if err := unfileFinished(tx, seq); err != nil {
			return err
		}
		d.State, d.Attempts, d.ClientErrors, d.Done = StatePending, 0, 0, time.Time{}
		d.Created, d.OfflineAtCreate, d.NextDue = now, offTotal, now
		d.setAge(0, now, offTotal)
		if err := putDelivery(tx, seq, d); err != nil {
			return err
		}
		if err := putPending(tx, name, now, seq); err != nil {
			return err
		}
		return deleteDead(tx, k)
	})
	o.Kick()
	return n, err
}

// eachDead runs fn on the dead deliveries sel selects, pruneBatch to a
// transaction; fn must remove the key from the dead index.
func (o *Outbox) eachDead(sel RetrySelector, fn func(tx *bbolt.Tx, k []byte) error) (int, error) {
	n := 0
	var from []byte
	if sel.Seq != 0 {
		from = u64(sel.Seq)
	}
	for {
		more, done := false, 0
		err := o.db.Update(func(tx *bbolt.Tx) error {
			var keys [][]byte
			c := tx.Bucket(deadBucket).Cursor()
			for k, _ := c.Seek(from); k != nil; k, _ = c.Next() {
				if len(k) <= 8 {
					continue
				}
				if sel.Seq != 0 && seqOf(k) != sel.Seq {
					break // the index is ordered by event
				}
				if sel.Endpoint != "" && string(k[8:]) != sel.Endpoint {
					continue
				}
				if len(keys) == pruneBatch {
					more = true
					break
				}
				keys = append(keys, append([]byte(nil), k...))
			}
			for _, k := range keys {
				if err := fn(tx, k); err != nil {
					return err
				}
			}
			done = len(keys)
			if len(keys) > 0 {
				from = append(keys[len(keys)-1], 0)
			}
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("outbox: %w", err)
		}
		n += done
		if !more {
			return n, nil
		}
	}
}

// EnableEndpoint re-enables an endpoint disabled by a 410 Gone.
func (o *Outbox) EnableEndpoint(name string) error {
	err := o.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(metaBucket).Delete([]byte("disabled/" + name)) })
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	o.mu.Lock()
	if st := o.endpoints[name]; st != nil {
		// Its backlog goes out at once, oldest first, whenever its
		// deliveries were due to be aged next.
		st.disabled, st.failing, st.drain = false, 0, true
	}
	o.mu.Unlock()
	o.Kick()
	return nil
}

// PurgeSelector chooses what Purge deletes: dead deliveries (Dead), and
// events whose deliveries were all delivered more than OlderThan ago.
type PurgeSelector struct {
	Dead      bool
	OlderThan time.Duration
}

// Purge deletes dead deliveries when asked, then finished events older than
// OlderThan. It returns how many deliveries and events it removed.
func (o *Outbox) Purge(sel PurgeSelector) (int, error) {
	n := 0
	if sel.Dead {
		now := o.opts.Clock.Now()
		m, err := o.eachDead(RetrySelector{AllDead: true}, func(tx *bbolt.Tx, k []byte) error {
			seq := seqOf(k)
			if err := unfileFinished(tx, seq); err != nil {
				return err
			}
			if err := tx.Bucket(deliveriesBucket).Delete(k); err != nil {
				return err
			}
			if err := deleteDead(tx, k); err != nil {
				return err
			}
			// What is left of the event is filed again: an event without
			// deliveries goes Retention from now.
			return fileFinished(tx, seq, now)
		})
		n += m
		if err != nil {
			return n, err
		}
	}
	if sel.OlderThan > 0 {
		m, err := o.prune(o.opts.Clock.Now(), sel.OlderThan, keepDead)
		n += m
		if err != nil {
			return n, fmt.Errorf("outbox: %w", err)
		}
	}
	return n, nil
}

// Compact copies a closed outbox file into a new, compact one at dst. The
// agent must be stopped (bbolt holds a lock on an open file).
func Compact(src, dst string) error {
	from, err := bbolt.Open(src, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("outbox: open %s (is the agent running?): %w", src, err)
	}
	defer from.Close()
	to, err := bbolt.Open(dst, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if err := bbolt.Compact(to, from, 64<<20); err != nil {
		to.Close()
		os.Remove(dst)
		return fmt.Errorf("outbox: compact: %w", err)
	}
	return to.Close()
}
