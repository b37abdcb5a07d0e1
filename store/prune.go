package store

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/simhook/simhook/internal/clock"
	"go.etcd.io/bbolt"
)

// pruneBatch bounds the records one pruning transaction deletes, so a large
// backlog never holds the group commit for long.
const pruneBatch = 1000

// Retention is how long each kind of record is kept.
type Retention struct {
	// Sends is how long a finished send request is kept after it finished
	// (delivery.retention): delivery reports for it match until then.
	Sends time.Duration
	// MalformedAge and MalformedCount bound the malformed PDUs kept for
	// inspection: the oldest go first.
	MalformedAge   time.Duration
	MalformedCount int
	// Reports is how long a delivery report that matched no send is kept.
	Reports time.Duration
}

// Defaults for malformed PDUs and unmatched reports (documented in the
// README's configuration reference).
const (
	DefaultMalformedAge   = 30 * 24 * time.Hour
	DefaultMalformedCount = 1000
	DefaultReportAge      = 48 * time.Hour
)

// tick is added to the time a record falls due: a record is kept while its
// age is at most its retention, so it goes just after, not at, age ==
// retention, and a loop woken at the due time finds it to delete.
const tick = time.Nanosecond

// Pruned counts what one Prune deleted.
type Pruned struct {
	Sends, Malformed, Reports, Usage int
}

// Prune deletes what retention lets go of at now, in bounded transactions,
// and returns when the next record becomes due (zero when nothing is kept
// that could become due).
func (s *Store) Prune(ctx context.Context, now time.Time, ret Retention) (Pruned, time.Time, error) {
	var p Pruned
	var next time.Time
	for {
		n, nx, more, err := s.pruneSends(ctx, now.Add(-ret.Sends))
		p.Sends += n
		if err != nil {
			return p, time.Time{}, err
		}
		if !more {
			if !nx.IsZero() {
				next = nx.Add(ret.Sends + tick)
			}
			break
		}
	}
	n, nx, err := s.pruneMalformed(ctx, now, ret)
	p.Malformed += n
	if err != nil {
		return p, time.Time{}, err
	}
	next = clock.Earliest(next, nx)
	n, nx, err = s.pruneReports(ctx, now, ret.Reports)
	p.Reports += n
	if err != nil {
		return p, time.Time{}, err
	}
	next = clock.Earliest(next, nx)
	for {
		n, oldest, more, err := s.pruneUsage(ctx, now.Add(-UsageKept))
		p.Usage += n
		if err != nil {
			return p, time.Time{}, err
		}
		if !more {
			if !oldest.IsZero() {
				next = clock.Earliest(next, oldest.Add(UsageKept+tick))
			}
			break
		}
	}
	return p, next, nil
}

// pruneSends deletes up to pruneBatch finished requests that finished before
// cutoff, with their message references. It returns the finish time of the
// oldest one kept, and whether more are due.
func (s *Store) pruneSends(ctx context.Context, cutoff time.Time) (n int, oldest time.Time, more bool, err error) {
	// A read first: with nothing due, no write transaction (and no
	// commit) at all.
	due := false
	err = s.view(func(tx *bbolt.Tx) error {
		done, err := bucket(tx, doneBucket)
		if err != nil {
			return err
		}
		k, _ := done.Cursor().First()
		if k == nil {
			return nil
		}
		if at, _, ok := timeKeyParts(k); ok && !at.Before(cutoff) {
			oldest = at
			return nil
		}
		due = true
		return nil
	})
	if err != nil || !due {
		return 0, oldest, false, err
	}
	err = s.update(ctx, func(tx *bbolt.Tx) error {
		n, oldest, more = 0, time.Time{}, false
		bs, err := buckets(tx, doneBucket, sendsBucket, refsBucket)
		if err != nil {
			return err
		}
		done, sends, refs := bs[0], bs[1], bs[2]
		c := done.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.First() {
			at, id, ok := timeKeyParts(k)
			if ok && !at.Before(cutoff) {
				oldest = at
				return nil
			}
			if n == pruneBatch {
				more = true
				return nil
			}
			if err := c.Delete(); err != nil {
				return err
			}
			n++
			if !ok {
				continue
			}
			var r Send
			if found, err := getJSON(sends, u64(id), &r); err == nil && found {
				if !r.Finished() {
					// The index was stale: the record is elsewhere.
					continue
				}
				if err := forgetRequestID(tx, r); err != nil {
					return err
				}
				for _, ref := range r.Refs {
					key := refKey(r.UsedPhone, ref)
					var e RefEntry
					if ok, _ := getJSON(refs, key, &e); ok && e.ID == r.ID {
						if err := refs.Delete(key); err != nil {
							return err
						}
					}
				}
			}
			if err := sends.Delete(u64(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("store: prune sends: %w", err)
	}
	return n, oldest, more, err
}

// pruneMalformed keeps at most ret.MalformedCount malformed PDUs, none older
// than ret.MalformedAge.
func (s *Store) pruneMalformed(ctx context.Context, now time.Time, ret Retention) (n int, next time.Time, err error) {
	due := false
	err = s.view(func(tx *bbolt.Tx) error {
		b, err := bucket(tx, malformedBucket)
		if err != nil {
			return err
		}
		k, _ := b.Cursor().First()
		if k == nil {
			return nil
		}
		var m MalformedPDU
		decoded, _ := getJSON(b, k, &m)
		at, perr := time.Parse(time.RFC3339, m.At)
		if b.Stats().KeyN <= ret.MalformedCount && decoded && perr == nil && now.Sub(at) <= ret.MalformedAge {
			next = at.Add(ret.MalformedAge + tick)
			return nil
		}
		due = true
		return nil
	})
	if err != nil || !due {
		return 0, next, err
	}
	err = s.update(ctx, func(tx *bbolt.Tx) error {
		n, next = 0, time.Time{}
		b, err := bucket(tx, malformedBucket)
		if err != nil {
			return err
		}
		excess := b.Stats().KeyN - ret.MalformedCount
		c := b.Cursor()
		for k, _ := c.First(); k != nil && n < pruneBatch*10; k, _ = c.First() {
			var m MalformedPDU
			decoded, _ := getJSON(b, k, &m)
			at, perr := time.Parse(time.RFC3339, m.At)
			if excess <= 0 && decoded && perr == nil && now.Sub(at) <= ret.MalformedAge {
				next = at.Add(ret.MalformedAge + tick)
				return nil
			}
			if err := c.Delete(); err != nil {
				return err
			}
			excess--
			n++
		}
		return nil
	})
	return n, next, err
}

// pruneReports deletes kept delivery reports older than age.
func (s *Store) pruneReports(ctx context.Context, now time.Time, age time.Duration) (n int, next time.Time, err error) {
	var expired [][]byte
	err = s.view(func(tx *bbolt.Tx) error {
		b, err := bucket(tx, reportsBucket)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var r KeptReport
			ok, err := getJSON(b, k, &r)
			if err != nil || !ok || now.Sub(r.Arrived) > age {
				expired = append(expired, bytes.Clone(k))
				return nil
			}
			next = clock.Earliest(next, r.Arrived.Add(age+tick))
			return nil
		})
	})
	if err != nil || len(expired) == 0 {
		return 0, next, err
	}
	return len(expired), next, s.deleteKeys(ctx, reportsBucket, expired)
}

// deleteKeys deletes keys from bucket name in one transaction.
func (s *Store) deleteKeys(ctx context.Context, name []byte, keys [][]byte) error {
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b, err := bucket(tx, name)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
