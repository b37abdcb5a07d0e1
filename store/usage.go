package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// UsageKept is how long a part's hand-over is remembered for the phones'
// send limits: the longest window (a day, 25 hours across a daylight-saving
// change) with a margin for a time-zone change.
const UsageKept = 49 * time.Hour

// usageKey is the key of one part's hand-over: the time, the send id, then
// the part number, so keys sort by time.
func usageKey(at time.Time, id uint64, part int) []byte {
	return binary.BigEndian.AppendUint16(timeKey(at, id), uint16(part))
}

// SaveHanded stores r, whose part number r.Handed (counting from 1) is about
// to be handed to the modem of phone r.UsedPhone at at, and counts that
// part against the phone's send limits, in one transaction.
func (s *Store) SaveHanded(ctx context.Context, r Send, at time.Time) error {
	err := s.update(context.WithoutCancel(ctx), func(tx *bbolt.Tx) error {
		if err := putSend(tx, r); err != nil {
			return err
		}
		b, err := bucket(tx, usageBucket)
		if err != nil {
			return err
		}
		return b.Put(usageKey(at, r.ID, r.Handed), binary.BigEndian.AppendUint32(nil, uint32(r.UsedPhone)))
	})
	if err != nil {
		return fmt.Errorf("store: save send %d: %w", r.ID, err)
	}
	return nil
}

// Usage returns the times of the parts each phone handed to its modem at
// or after since, oldest first.
func (s *Store) Usage(since time.Time) (map[int][]time.Time, error) {
	out := make(map[int][]time.Time)
	err := s.view(func(tx *bbolt.Tx) error {
		b, err := bucket(tx, usageBucket)
		if err != nil {
			return err
		}
		c := b.Cursor()
		for k, v := c.Seek(timeKey(since, 0)); k != nil; k, v = c.Next() {
			if len(k) != 18 || len(v) != 4 {
				continue // not written by SaveHanded: Check reports it
			}
			at, _, _ := timeKeyParts(k[:16])
			phone := int(binary.BigEndian.Uint32(v))
			out[phone] = append(out[phone], at)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: usage: %w", err)
	}
	return out, nil
}

// pruneUsage deletes up to pruneBatch hand-overs older than cutoff. It
// returns the time of the oldest kept and whether more are due.
func (s *Store) pruneUsage(ctx context.Context, cutoff time.Time) (n int, oldest time.Time, more bool, err error) {
	var expired [][]byte
	err = s.view(func(tx *bbolt.Tx) error {
		b, err := bucket(tx, usageBucket)
		if err != nil {
			return err
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			at := time.Time{}
			if len(k) >= 16 {
				at, _, _ = timeKeyParts(k[:16])
			}
			if len(k) == 18 && !at.Before(cutoff) {
				oldest = at
				return nil
			}
			if len(expired) == pruneBatch {
				more = true
				return nil
			}
			expired = append(expired, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil || len(expired) == 0 {
		return 0, oldest, more, err
	}
	if err := s.deleteKeys(ctx, usageBucket, expired); err != nil {
		return 0, time.Time{}, false, err
	}
	return len(expired), oldest, more, nil
}
