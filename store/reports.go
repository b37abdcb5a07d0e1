package store

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/simhook/simhook/modem"
	"go.etcd.io/bbolt"
)

// KeptReport is a delivery report waiting for the send it is about.
type KeptReport struct {
	modem.StatusReport
	Arrived time.Time `json:"arrived"`
	// Seq is its sequence number (from the key; not stored).
	Seq uint64 `json:"-"`
}

// keptReportKey is the key of a kept report: the phone id, then the
// sequence number, zero-padded so a phone's reports sort in arrival order.
func keptReportKey(phone int, seq uint64) []byte {
	return fmt.Appendf(nil, "%d/%020d", phone, seq)
}

// KeepReport stores a report that arrived at arrived under the next
// sequence number, which it returns.
func (s *Store) KeepReport(ctx context.Context, phone int, rep modem.StatusReport, arrived time.Time) (uint64, error) {
	var seq uint64
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b, err := bucket(tx, reportsBucket)
		if err != nil {
			return err
		}
		if seq, err = b.NextSequence(); err != nil {
			return err
		}
		return putJSON(b, keptReportKey(phone, seq), KeptReport{StatusReport: rep, Arrived: arrived})
	})
	if err != nil {
		return 0, fmt.Errorf("store: keep report: %w", err)
	}
	return seq, nil
}

// ReportMark is the sequence number of the last kept report. A send stores
// it when it begins; the reports kept after it may be about it.
func (s *Store) ReportMark() (uint64, error) {
	var mark uint64
	err := s.view(func(tx *bbolt.Tx) error {
		b, err := bucket(tx, reportsBucket)
		if err == nil {
			mark = b.Sequence()
		}
		return err
	})
	return mark, err
}

// KeptReports returns phone's kept reports, oldest first. Undecodable ones
// come back in bad, by sequence number, for the caller to drop.
func (s *Store) KeptReports(phone int) (kept []KeptReport, bad []uint64, err error) {
	prefix := fmt.Appendf(nil, "%d/", phone)
	err = s.view(func(tx *bbolt.Tx) error {
		b, err := bucket(tx, reportsBucket)
		if err != nil {
			return err
		}
		c := b.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			seq, perr := strconv.ParseUint(string(k[len(prefix):]), 10, 64)
			var r KeptReport
			ok, gerr := getJSON(b, k, &r)
			if perr != nil {
				continue // not a key this code writes; pruning drops it by age
			}
			if gerr != nil || !ok {
				bad = append(bad, seq)
				continue
			}
			r.Seq = seq
			kept = append(kept, r)
		}
		return nil
	})
	return kept, bad, err
}

// DropReports deletes phone's kept reports with the given sequence numbers.
func (s *Store) DropReports(ctx context.Context, phone int, seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	err := s.update(context.WithoutCancel(ctx), func(tx *bbolt.Tx) error {
		b, err := bucket(tx, reportsBucket)
		if err != nil {
			return err
		}
		for _, seq := range seqs {
			if err := b.Delete(keptReportKey(phone, seq)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: drop reports: %w", err)
	}
	return nil
}
