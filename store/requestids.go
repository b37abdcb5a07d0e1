package store

import (
	"context"
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
