package store

import (
	"time"

	"go.etcd.io/bbolt"
)

// Call is the inbound call in progress on a phone.
type Call struct {
	ID     uint64    `json:"id"`
	UID    string    `json:"uid"`
	Start  time.Time `json:"start"`
	Origin string    `json:"origin"`
}

// ActiveCall returns the call in progress on phone, or nil.
func (s *Store) ActiveCall(phone int) (*Call, error) {
	var call *Call
	err := s.view(func(tx *bbolt.Tx) error {
		b, err := bucket(tx, callsBucket)
		if err != nil {
			return err
		}
		var c Call
		ok, err := getJSON(b, phoneKey(phone), &c)
		if ok && err == nil {
			call = &c
		}
		return err
	})
	return call, err
}

// StartCallHook records c as phone's call in progress, in the transaction of
// its start event, whose id becomes the call's (set also in *c).
func (s *Store) StartCallHook(phone int, c *Call) Hook {
	return func(tx *bbolt.Tx, id uint64) error {
		b, err := bucket(tx, callsBucket)
		if err != nil {
			return err
		}
		c.ID = id
		return putJSON(b, phoneKey(phone), c)
	}
}

// EndCallHook forgets phone's call in progress, in the transaction of its
// end event.
func (s *Store) EndCallHook(phone int) Hook {
	return func(tx *bbolt.Tx, _ uint64) error {
		b, err := bucket(tx, callsBucket)
		if err != nil {
			return err
		}
		return b.Delete(phoneKey(phone))
	}
}
