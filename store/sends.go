package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// Send states: where a request is in the queue.
const (
	Queued  = "queued"  // accepted, waiting for a phone
	Sending = "sending" // handed to a phone; the modem may have accepted it
	Sent    = "sent"    // every part accepted by the modem
	Failed  = "failed"  // could not be sent
)

// Send is one send request and everything known about it. Its ID is also the
// id of its send_sms event, so the id the API returns is the one receivers
// see.
type Send struct {
	ID           uint64    `json:"id"`
	To           string    `json:"to"`
	Text         string    `json:"text"`
	Phone        int       `json:"phone,omitempty"` // requested phone; 0 = any
	Tag          string    `json:"tag"`
	StatusReport bool      `json:"status_report"`
	State        string    `json:"state"`
	Status       string    `json:"status,omitempty"` // webhook status once handed over
	UsedPhone    int       `json:"used_phone,omitempty"`
	Refs         []int     `json:"refs,omitempty"`
	Handed       int       `json:"handed,omitempty"` // parts whose PDU went to the modem in this attempt
	Parts        []string  `json:"parts,omitempty"`  // per-part report status
	Attempts     int       `json:"attempts"`
	LastError    string    `json:"last_error,omitempty"`
	Created      time.Time `json:"created"`
	SentAt       time.Time `json:"sent_at,omitzero"`
	NotBefore    time.Time `json:"not_before,omitzero"`
	// ReportMark is the kept-report sequence number when the last attempt
	// began: kept reports above it may be about this request.
	ReportMark uint64 `json:"report_mark,omitempty"`
	// Outcome is the outcome decided but not yet committed (the commit
	// failed); a restart commits it.
	Outcome *Outcome `json:"outcome,omitempty"`
	// Avoid lists the phones whose SIM refused the request: it fails over
	// to another phone and is not given to them again.
	Avoid []int `json:"avoid,omitempty"`
	// RequestID is the id its client chose (a fleet request), unique.
	RequestID string `json:"request_id,omitempty"`
	// Unclaimed: a fleet request committed here but not yet claimed for
	// this gateway on the fleet's server. It is held (NotBefore far ahead)
	// until the claim settles: sent if this gateway holds it, dropped if
	// another does.
	Unclaimed bool `json:"unclaimed,omitempty"`
}

// Outcome is a request's final state and webhook status.
type Outcome struct {
	State  string `json:"state"`
	Status string `json:"status"`
}

// Finished reports whether the request reached a final state.
func (s Send) Finished() bool { return s.State == Sent || s.State == Failed }

// RefEntry links a message reference on a phone to a part of a sent SMS.
type RefEntry struct {
	ID        uint64 `json:"id"`
	Part      int    `json:"part"`
	Recipient string `json:"recipient"`
}

// ErrNotFound is returned for a send id the store does not hold.
var ErrNotFound = errors.New("not found")

// ErrNotQueued is returned by Begin for a request that is no longer queued
// and due (a send that ended since the caller's snapshot).
var ErrNotQueued = errors.New("no longer queued")

// AddSend stores a new request as queued, assigns its id and returns it.
func (s *Store) AddSend(ctx context.Context, r Send) (Send, error) {
	r.State = Queued
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		r, err = addSendTx(tx, r)
		return err
	})
	if err != nil {
		return Send{}, fmt.Errorf("store: add send: %w", err)
	}
	return r, nil
}

// addSendTx gives r the next id and stores it.
func addSendTx(tx *bbolt.Tx, r Send) (Send, error) {
	b, err := bucket(tx, activeBucket)
	if err != nil {
		return r, err
	}
	// The sequence (on the small active bucket, so taking an id touches
	// no page of the history) is past every id the store gave; a record
	// above it (a file repaired by hand) is stepped over, never
	// overwritten.
	for {
		id, err := b.NextSequence()
		if err != nil {
			return r, err
		}
		if _, found, _ := getSend(tx, id); !found {
			r.ID = id
			return r, putSend(tx, r)
		}
	}
}

// Send returns request id, or ErrNotFound.
func (s *Store) Send(id uint64) (Send, error) {
	var r Send
	err := s.view(func(tx *bbolt.Tx) error {
		var ok bool
		var err error
		r, ok, err = getSend(tx, id)
		if !ok && err == nil {
			return ErrNotFound
		}
		return err
	})
	return r, err
}

// SaveSend stores r as it is now, with its message references and indexes.
func (s *Store) SaveSend(ctx context.Context, r Send) error {
	if err := s.update(context.WithoutCancel(ctx), func(tx *bbolt.Tx) error { return putSend(tx, r) }); err != nil {
		return fmt.Errorf("store: save send %d: %w", r.ID, err)
	}
	return nil
}

// SaveSendHook stores r in the transaction of an event (its send_sms or
// status change).
func (s *Store) SaveSendHook(r Send) Hook {
	return func(tx *bbolt.Tx, _ uint64) error { return putSend(tx, r) }
}

// Begin marks queued request id as being sent through phone, if it is still
// queued and due at now, and returns it as stored. It returns ErrNotQueued
// otherwise. The attempt counts; references of an earlier attempt are
// forgotten.
func (s *Store) Begin(ctx context.Context, id uint64, phone int, mark uint64, now time.Time) (Send, error) {
	var r Send
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		var ok bool
		var err error
		r, ok, err = getSend(tx, id)
		if err != nil {
			return err
		}
		if !ok || r.State != Queued || now.Before(r.NotBefore) {
			return ErrNotQueued
		}
		r.State = Sending
		r.UsedPhone = phone
		r.Attempts++
		r.Refs, r.Handed = nil, 0
		r.ReportMark = mark
		return putSend(tx, r)
	})
	return r, err
}

// Due returns up to limit (0: all) queued requests due at now, earliest due first,
// and the time the next queued one becomes due (zero when none waits).
// Corrupt records are skipped (and counted in skipped).
func (s *Store) Due(now time.Time, limit int) (due []Send, next time.Time, skipped int, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		q, err := bucket(tx, queuedBucket)
		if err != nil {
			return err
		}
		c := q.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			at, id, ok := timeKeyParts(k)
			if !ok {
				skipped++
				continue
			}
			if at.After(now) {
				next = at
				return nil
			}
			if limit > 0 && len(due) >= limit {
				next = now
				return nil
			}
			r, found, err := getSend(tx, id)
			if err != nil || !found || r.State != Queued {
				skipped++
				continue
			}
			due = append(due, r)
		}
		return nil
	})
	return due, next, skipped, err
}

// Open returns the requests in the sending state: those a crash interrupted
// when called at start.
func (s *Store) Open() ([]Send, error) {
	var out []Send
	err := s.view(func(tx *bbolt.Tx) error {
		o, err := bucket(tx, openBucket)
		if err != nil {
			return err
		}
		return o.ForEach(func(k, _ []byte) error {
			if len(k) != 8 {
				return nil
			}
			if r, ok, err := getSend(tx, binary.BigEndian.Uint64(k)); err == nil && ok && r.State == Sending {
				out = append(out, r)
			}
			return nil
		})
	})
	return out, err
}

// MatchRef returns the send a message reference on phone belongs to, and
// the entry, or false when none is recorded.
func (s *Store) MatchRef(phone, ref int) (Send, RefEntry, bool, error) {
	var (
		r     Send
		e     RefEntry
		found bool
	)
	err := s.view(func(tx *bbolt.Tx) error {
		refs, err := bucket(tx, refsBucket)
		if err != nil {
			return err
		}
		ok, err := getJSON(refs, refKey(phone, ref), &e)
		if err != nil || !ok {
			return err
		}
		r, found, err = getSend(tx, e.ID)
		found = found && err == nil
		return err
	})
	return r, e, found, err
}

// SentSince returns the finished requests whose finish time is at or after
// from, oldest first: the reliability window.
func (s *Store) SentSince(from time.Time) ([]Send, error) {
	var out []Send
	err := s.view(func(tx *bbolt.Tx) error {
		bs, err := buckets(tx, doneBucket, sendsBucket)
		if err != nil {
			return err
		}
		d, sends := bs[0], bs[1]
		c := d.Cursor()
		for k, _ := c.Seek(timeKey(from, 0)); k != nil; k, _ = c.Next() {
			_, id, ok := timeKeyParts(k)
			if !ok {
				continue
			}
			if r, ok, err := getSendIn(sends, id); err == nil && ok {
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}

// putSend writes r and keeps the indexes and references in step with it:
// the index keys of the record it replaces are removed first.
//
// A request lives in agent/sends-active until it is finished, then in
// agent/sends: every write before the outcome, up to the hand-over to the
// modem, touches only the small active bucket, whatever the history holds.
func putSend(tx *bbolt.Tx, r Send) error {
	bs, err := buckets(tx, activeBucket, sendsBucket)
	if err != nil {
		return err
	}
	active, finished := bs[0], bs[1]
	old, had, readErr := getSend(tx, r.ID)
	if readErr != nil {
		had = false // a corrupt record is replaced; its index keys are unknown
	}
	if had {
		if err := unindex(tx, old); err != nil {
			return err
		}
	}
	if err := index(tx, r); err != nil {
		return err
	}
	to, from := active, finished
	if r.Finished() {
		to, from = finished, active
	}
	if err := putJSON(to, u64(r.ID), r); err != nil {
		return err
	}
	// Moved from the other bucket (or unknown there, if its record was
	// corrupt): delete it there. A request in progress that stays in
	// progress never reads the history's bucket.
	if (had && old.Finished() != r.Finished()) || readErr != nil {
		if err := from.Delete(u64(r.ID)); err != nil {
			return err
		}
	}
	return putRefs(tx, r)
}

// getSend reads request id from whichever bucket holds it.
func getSend(tx *bbolt.Tx, id uint64) (Send, bool, error) {
	for _, name := range [][]byte{activeBucket, sendsBucket} {
		b, err := bucket(tx, name)
		if err != nil {
			return Send{}, false, err
		}
		if r, ok, err := getSendIn(b, id); ok || err != nil {
			return r, ok, err
		}
	}
	return Send{}, false, nil
}

// getSendIn reads the request stored under id in bucket b.
func getSendIn(b *bbolt.Bucket, id uint64) (Send, bool, error) {
	var r Send
	ok, err := getJSON(b, u64(id), &r)
	return r, ok, err
}

// indexKey is where r sits in the index of its state.
func indexKey(r Send) (bucketName, key []byte) {
	switch r.State {
	case Queued:
		return queuedBucket, timeKey(r.NotBefore, r.ID)
	case Sending:
		return openBucket, u64(r.ID)
	case Sent, Failed:
		return doneBucket, timeKey(r.SentAt, r.ID)
	}
	return nil, nil
}

// index adds r to the index of its state.
func index(tx *bbolt.Tx, r Send) error { return indexOp(tx, r, true) }

// unindex removes r from the index of its state.
func unindex(tx *bbolt.Tx, r Send) error { return indexOp(tx, r, false) }

func indexOp(tx *bbolt.Tx, r Send, add bool) error {
	name, key := indexKey(r)
	if name == nil {
		return nil
	}
	b, err := bucket(tx, name)
	if err != nil {
		return err
	}
	if add {
		return b.Put(key, nil)
	}
	return b.Delete(key)
}

// putRefs links each of a request's message references on its phone to the
// part it was answered for.
func putRefs(tx *bbolt.Tx, r Send) error {
	if len(r.Refs) == 0 {
		return nil
	}
	refs, err := bucket(tx, refsBucket)
	if err != nil {
		return err
	}
	for i, ref := range r.Refs {
		if err := putJSON(refs, refKey(r.UsedPhone, ref), RefEntry{ID: r.ID, Part: i, Recipient: r.To}); err != nil {
			return err
		}
	}
	return nil
}

// refKey is the key of a message reference on a phone.
func refKey(phone, ref int) []byte { return fmt.Appendf(nil, "%d/%d", phone, ref) }

// EachSend calls fn for every send request, those in progress first, each
// group by id (inspection and tests).
func (s *Store) EachSend(fn func(Send) error) error {
	return s.view(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{activeBucket, sendsBucket} {
			b, err := bucket(tx, name)
			if err != nil {
				return err
			}
			err = b.ForEach(func(k, _ []byte) error {
				var r Send
				if ok, err := getJSON(b, k, &r); err != nil || !ok {
					return nil // a corrupt record is skipped, not fatal
				}
				return fn(r)
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// ClearSends deletes every send request with its indexes, references and
// kept reports, keeping the id sequences: for tests that reuse one file.
func (s *Store) ClearSends(ctx context.Context) error {
	return s.update(ctx, func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{sendsBucket, activeBucket, queuedBucket, openBucket, doneBucket, refsBucket, reportsBucket} {
			b, err := bucket(tx, name)
			if err != nil {
				return err
			}
			c := b.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.First() {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// QueuedCount returns how many requests are queued (waiting or due), read
// from the due-time index.
func (s *Store) QueuedCount() (int, error) {
	n := 0
	err := s.view(func(tx *bbolt.Tx) error {
		q, err := bucket(tx, queuedBucket)
		if err != nil {
			return err
		}
		n = q.Stats().KeyN
		return nil
	})
	return n, err
}
