package store

import (
	"context"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"
)

func slotKey(phone int, storage string, index int) []byte {
	return fmt.Appendf(nil, "%d/%s/%d", phone, storage, index)
}

// SlotKeys returns the dedupe key remembered for each of a message's SIM
// slots ("" where none is).
func (s *Store) SlotKeys(phone int, storage string, indexes []int) ([]string, error) {
	out := make([]string, len(indexes))
	err := s.view(func(tx *bbolt.Tx) error {
		b, err := bucket(tx, slotsBucket)
		if err != nil {
			return err
		}
		for i, idx := range indexes {
			out[i] = string(b.Get(slotKey(phone, storage, idx)))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: slots: %w", err)
	}
	return out, nil
}

// RememberSlotsHook remembers that a message committed under key sits in
// the given slots, in the transaction of its receive event.
func (s *Store) RememberSlotsHook(phone int, storage string, indexes []int, key string) Hook {
	return func(tx *bbolt.Tx, _ uint64) error {
		if storage == "" {
			return nil
		}
		b, err := bucket(tx, slotsBucket)
		if err != nil {
			return err
		}
		for _, idx := range indexes {
			if err := b.Put(slotKey(phone, storage, idx), []byte(key)); err != nil {
				return err
			}
		}
		return nil
	}
}

// ForgetSlots forgets the slots that still hold keys containing content,
// once the driver deleted the message from them.
func (s *Store) ForgetSlots(ctx context.Context, phone int, storage string, indexes []int, content string) error {
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b, err := bucket(tx, slotsBucket)
		if err != nil {
			return err
		}
		for _, idx := range indexes {
			k := slotKey(phone, storage, idx)
			if strings.Contains(string(b.Get(k)), content) {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
