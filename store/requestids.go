package store

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
)

// AddSendOnce stores a new request like AddSend, unless a request with the
// same client-chosen id (r.RequestID, a fleet request's id) is already
// stored: then it returns that one and existed true. The check and the
// insert are one transaction, so a request redelivered after a crash
// between its commit and its acknowledgement is recognised, never queued
// twice. The id is forgotten when the request is pruned.
func (s *Store) AddSendOnce(ctx context.Context, r Send) (Send, bool, error) {
	if r.RequestID == "" {
		return Send{}, false, fmt.Errorf("store: add send once: no request id")
	}
	r.State = Queued
	var existed bool
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		existed = false
		ids, err := bucket(tx, requestIDsBucket)
		if err != nil {
			return err
		}
		key := []byte(r.RequestID)
		if v := ids.Get(key); len(v) == 8 {
			old, found, err := getSend(tx, u64From(v))
			if err != nil {
				return err
			}
			if found && old.RequestID == r.RequestID {
				existed, r = true, old
				return nil
			}
		}
		if r, err = addSendTx(tx, r); err != nil {
			return err
		}
		return ids.Put(key, u64(r.ID))
	})
	if err != nil {
		return Send{}, false, fmt.Errorf("store: add send %q: %w", r.RequestID, err)
	}
	return r, existed, nil
}

// forgetRequestID deletes r's entry in the request-id index, if it names r.
func forgetRequestID(tx *bbolt.Tx, r Send) error {
	if r.RequestID == "" {
		return nil
	}
	ids, err := bucket(tx, requestIDsBucket)
	if err != nil {
		return err
	}
	if v := ids.Get([]byte(r.RequestID)); len(v) == 8 && u64From(v) == r.ID {
		return ids.Delete([]byte(r.RequestID))
	}
	return nil
}

// ErrNotDroppable is returned by DropSend for a request that is not queued
// and unclaimed: it may be on its way, so it cannot go without a trace.
var ErrNotDroppable = errors.New("not an unclaimed queued request")

// DropSend deletes request id, which must be queued and unclaimed (a fleet
// request another gateway holds): it was never given to a modem and no
// event was made for it.
func (s *Store) DropSend(ctx context.Context, id uint64) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		r, found, err := getSend(tx, id)
		if err != nil {
			return err
		}
		if !found {
			return nil
		}
		if r.State != Queued || !r.Unclaimed {
			return ErrNotDroppable
		}
		if err := unindex(tx, r); err != nil {
			return err
		}
		active, err := bucket(tx, activeBucket)
		if err != nil {
			return err
		}
		if err := active.Delete(u64(id)); err != nil {
			return err
		}
		return forgetRequestID(tx, r)
	})
	if err != nil {
		return fmt.Errorf("store: drop send %d: %w", id, err)
	}
	return nil
}

// Unclaimed returns the fleet requests committed here whose claim has not
// settled, read from the small bucket of requests in progress.
func (s *Store) Unclaimed() ([]Send, error) {
	var out []Send
	err := s.view(func(tx *bbolt.Tx) error {
		b, err := bucket(tx, activeBucket)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, _ []byte) error {
			var r Send
			if ok, err := getJSON(b, k, &r); err == nil && ok && r.Unclaimed && r.State == Queued {
				out = append(out, r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: unclaimed: %w", err)
	}
	return out, nil
}
