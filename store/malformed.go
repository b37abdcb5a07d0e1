package store

import (
	"context"
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// MalformedPDU is a PDU the driver could not decode, kept for inspection.
type MalformedPDU struct {
	Seq   uint64 `json:"seq"`
	Phone int    `json:"phone"`
	Index int    `json:"index"`
	PDU   string `json:"pdu"` // hex
	Error string `json:"error"`
	At    string `json:"at"` // RFC 3339, UTC
}

// AddMalformed keeps m under the next sequence number.
func (s *Store) AddMalformed(ctx context.Context, m MalformedPDU) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b, err := bucket(tx, malformedBucket)
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		m.Seq = seq
		return putJSON(b, u64(seq), m)
	})
	if err != nil {
		return fmt.Errorf("store: keep malformed PDU: %w", err)
	}
	return nil
}

// Malformed returns up to limit malformed PDUs, newest first.
func (s *Store) Malformed(limit int) ([]MalformedPDU, error) {
	out := []MalformedPDU{}
	err := s.view(func(tx *bbolt.Tx) error {
		b, err := bucket(tx, malformedBucket)
		if err != nil {
			return err
		}
		c := b.Cursor()
		for k, _ := c.Last(); k != nil && len(out) < limit; k, _ = c.Prev() {
			var m MalformedPDU
			if _, err := getJSON(b, k, &m); err != nil {
				return fmt.Errorf("malformed PDU record %x: %w", k, err)
			}
			if len(k) == 8 {
				m.Seq = binary.BigEndian.Uint64(k)
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}
