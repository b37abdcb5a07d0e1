package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/bbolt"
)

// LastAlert is when the last reliability alert of kind was raised for
// phone (zero if never).
func (s *Store) LastAlert(phone int, kind string) (time.Time, error) {
	var last time.Time
	err := s.view(func(tx *bbolt.Tx) error {
		b, err := bucket(tx, alertsBucket)
		if err != nil {
			return err
		}
		_, err = getJSON(b, alertKey(phone, kind), &last)
		return err
	})
	return last, err
}

// AlertHook records an alert of kind for phone raised at at, in the
// transaction of its event; a non-empty disable also stops the phone from
// sending, with that reason.
func (s *Store) AlertHook(phone int, kind string, at time.Time, disable string) Hook {
	return func(tx *bbolt.Tx, _ uint64) error {
		b, err := bucket(tx, alertsBucket)
		if err != nil {
			return err
		}
		if err := putJSON(b, alertKey(phone, kind), at); err != nil {
			return err
		}
		if disable == "" {
			return nil
		}
		d, err := bucket(tx, disabledBucket)
		if err != nil {
			return err
		}
		return putJSON(d, phoneKey(phone), disable)
	}
}

func alertKey(phone int, kind string) []byte { return fmt.Appendf(nil, "%d/%s", phone, kind) }

// Disabled returns the phones that must not send.
func (s *Store) Disabled() (map[int]bool, error) {
	set := make(map[int]bool)
	err := s.view(func(tx *bbolt.Tx) error {
		b, err := bucket(tx, disabledBucket)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, _ []byte) error {
			if id, err := strconv.Atoi(string(k)); err == nil {
				set[id] = true
			}
			return nil
		})
	})
	return set, err
}

// SetDisabled stops phone from sending, with reason, or lets it send again
// when reason is empty.
func (s *Store) SetDisabled(ctx context.Context, phone int, reason string) error {
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b, err := bucket(tx, disabledBucket)
		if err != nil {
			return err
		}
		if reason == "" {
			return b.Delete(phoneKey(phone))
		}
		return putJSON(b, phoneKey(phone), reason)
	})
}

// NextConcatRef returns phone's next concatenation reference (1 to 65535,
// never 0), kept across restarts.
func (s *Store) NextConcatRef(ctx context.Context, phone int) (uint16, error) {
	var ref uint16
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b, err := bucket(tx, concatRefBucket)
		if err != nil {
			return err
		}
		ref = 0
		if v := b.Get(phoneKey(phone)); len(v) == 2 {
			ref = binary.BigEndian.Uint16(v)
		}
		ref++
		if ref == 0 {
			ref = 1
		}
		return b.Put(phoneKey(phone), binary.BigEndian.AppendUint16(nil, ref))
	})
	return ref, err
}
