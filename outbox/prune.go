package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/simhook/simhook/webhook"
	"go.etcd.io/bbolt"
)

// pruneBatch bounds the work of one retention transaction.
const pruneBatch = 2000

// keepDead, as prune's deadRetention, keeps the events with a dead
// delivery whatever their age (Purge's OlderThan).
const keepDead = -1

// prune deletes the finished events that are due to go (see finish.go):
// those filed in doneBucket before now minus retention, and those in
// deadDoneBucket before now minus the longer of retention and
// deadRetention (unless it is keepDead); then the dedupe keys stored
// before now minus retention whose event is gone. It visits the entries
// due and the one after them, never the events kept, and works in bounded
// transactions.
//
// The clock may have jumped since a finish time was stamped. A time
// further ahead than now (a clock set back since) is stamped again with
// now, so that the event goes Retention after this prune rather than
// after the clock catches up. A dedupe key is never dropped while its
// event is still stored, and counts its age again from the last prune that
// found the event, so it outlives the event by Retention or more.
func (o *Outbox) prune(now time.Time, retention, deadRetention time.Duration) (int, error) {
	if err := o.restampFuture(now); err != nil {
		return 0, err
	}
	total := 0
	indexes := []struct {
		bucket []byte
		keep   time.Duration
	}{{doneBucket, retention}}
	if deadRetention != keepDead {
		indexes = append(indexes, struct {
			bucket []byte
			keep   time.Duration
		}{deadDoneBucket, max(retention, deadRetention)})
	}
	for _, ix := range indexes {
		for {
			n, more, err := o.pruneIndex(ix.bucket, now.Add(-ix.keep), now)
			total += n
			if err != nil {
				return total, err
			}
			if !more {
				break
			}
		}
	}
	return total, o.pruneDedupe(now, now.Add(-retention))
}

// pruneIndex deletes up to pruneBatch events filed in bucket before cutoff.
func (o *Outbox) pruneIndex(bucket []byte, cutoff, now time.Time) (n int, more bool, err error) {
	err = o.db.Update(func(tx *bbolt.Tx) error {
		ix := tx.Bucket(bucket)
		var keys [][]byte
		c := ix.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if at, _, ok := finishKeyParts(k); ok && !at.Before(cutoff) {
				break
			}
			if len(keys) == pruneBatch {
				more = true
				break
			}
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			if err := ix.Delete(k); err != nil {
				return err
			}
			at, seq, ok := finishKeyParts(k)
			if !ok {
				continue
			}
			gone, again, err := pruneEvent(tx, seq, at, bucket, cutoff, now)
			if err != nil {
				return err
			}
			if gone {
				n++
			}
			more = more || again
		}
		return nil
	})
	return n, more, err
}

// pruneEvent deletes the event seq, filed in bucket at at, with its
// deliveries, if it is still finished as filed. An entry that no longer
// says so (the event was retried, or purged of a dead delivery, since) is
// filed again where it belongs; again reports one filed again in bucket
// before cutoff.
func pruneEvent(tx *bbolt.Tx, seq uint64, at time.Time, bucket []byte, cutoff, now time.Time) (gone, again bool, err error) {
	events := tx.Bucket(eventsBucket)
	v := events.Get(u64(seq))
	if v == nil {
		return false, false, nil
	}
	fs := eventFinish(tx, seq)
	if !fs.finished {
		return false, false, nil
	}
	// Without deliveries, or stamped ahead of the clock (and stamped
	// again since), the entry's own time stands.
	when := at
	if fs.deliveries > 0 && !fs.at.IsZero() && !fs.at.After(now.Add(ageSlack)) {
		when = fs.at
	}
	if into := fs.index(); !bytes.Equal(into, bucket) || !when.Equal(at) {
		if err := tx.Bucket(into).Put(finishKey(when, seq), nil); err != nil {
			return false, false, err
		}
		return false, bytes.Equal(into, bucket) && when.Before(cutoff), nil
	}
	var e struct {
		Type webhook.Type `json:"type"`
	}
	if err := json.Unmarshal(v, &e); err != nil {
		return false, false, nil // kept for an operator to see
	}
	deliveries := tx.Bucket(deliveriesBucket)
	k := u64(seq)
	var keys, states [][]byte
	c := deliveries.Cursor()
	for dk, dv := c.Seek(k); dk != nil && bytes.HasPrefix(dk, k); dk, dv = c.Next() {
		var d struct {
			State string `json:"state"`
		}
		_ = json.Unmarshal(dv, &d)
		keys, states = append(keys, bytes.Clone(dk)), append(states, []byte(d.State))
	}
	for i, dk := range keys {
		if err := deliveries.Delete(dk); err != nil {
			return false, false, err
		}
		switch string(states[i]) {
		case StateDelivered:
			err = addCount(tx, "delivered/"+string(dk[8:]), -1)
		case StateDead:
			err = deleteDead(tx, dk)
		}
		if err != nil {
			return false, false, err
		}
	}
	if err := events.Delete(k); err != nil {
		return false, false, err
	}
	if err := addCount(tx, "events", -1); err != nil {
		return false, false, err
	}
	return true, false, addCount(tx, "type/"+string(e.Type), -1)
}

// restampFuture files the finished events stamped later than now (plus
// ageSlack) under now: their finish time came from a clock that has since
// been set back.
func (o *Outbox) restampFuture(now time.Time) error {
	limit := now.Add(ageSlack)
	if !o.stampedAhead(limit) {
		return nil
	}
	return o.db.Update(func(tx *bbolt.Tx) error {
		for _, bucket := range [][]byte{doneBucket, deadDoneBucket} {
			b := tx.Bucket(bucket)
			var keys [][]byte
			c := b.Cursor()
			for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
				if at, _, ok := finishKeyParts(k); ok && !at.After(limit) {
					break
				}
				keys = append(keys, bytes.Clone(k))
			}
			for _, k := range keys {
				if err := b.Delete(k); err != nil {
					return err
				}
				if _, seq, ok := finishKeyParts(k); ok {
					if err := b.Put(finishKey(now, seq), nil); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

// stampedAhead reports whether an event is filed as finished after limit.
func (o *Outbox) stampedAhead(limit time.Time) bool {
	ahead := false
	_ = o.db.View(func(tx *bbolt.Tx) error {
		for _, bucket := range [][]byte{doneBucket, deadDoneBucket} {
			if k, _ := tx.Bucket(bucket).Cursor().Last(); k != nil {
				if at, _, ok := finishKeyParts(k); ok && at.After(limit) {
					ahead = true
				}
			}
		}
		return nil
	})
	return ahead
}

// nextPrune returns when prune next has something to delete (or to stamp
// again) with the settings set, and false when nothing is due ever: no
// finished event and no dedupe key is stored. It reads the first (and
// last) entry of each index.
func (o *Outbox) nextPrune(now time.Time, set Delivery) (time.Time, bool) {
	var next time.Time
	soon := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	_ = o.db.View(func(tx *bbolt.Tx) error {
		for _, ix := range []struct {
			bucket []byte
			keep   time.Duration
		}{{doneBucket, set.Retention}, {deadDoneBucket, max(set.Retention, set.DeadRetention)}} {
			c := tx.Bucket(ix.bucket).Cursor()
			if k, _ := c.First(); k != nil {
				if at, _, ok := finishKeyParts(k); ok {
					soon(at.Add(ix.keep).Add(time.Nanosecond))
				} else {
					soon(now)
				}
			}
			if k, _ := c.Last(); k != nil {
				if at, _, ok := finishKeyParts(k); ok && at.After(now.Add(ageSlack)) {
					soon(now)
				}
			}
		}
		if k, _ := tx.Bucket(dedupeAgeBucket).Cursor().First(); len(k) >= 8 {
			soon(time.Unix(int64(binary.BigEndian.Uint64(k))+1, 0).Add(set.Retention))
		}
		return nil
	})
	return next, !next.IsZero()
}

// dedupeAgeKey orders dedupe keys by the time they were stored.
func dedupeAgeKey(t time.Time, key string) []byte {
	return append(u64(uint64(max(t.Unix(), 0))), key...)
}

// pruneDedupe drops dedupe keys stored before cutoff whose event is gone,
// oldest first, in bounded transactions; it reads only the keys it looks
// at. A key whose event is still stored is stamped again with now.
func (o *Outbox) pruneDedupe(now, cutoff time.Time) error {
	for {
		more := false
		err := o.db.Update(func(tx *bbolt.Tx) error {
			age, dedupe := tx.Bucket(dedupeAgeBucket), tx.Bucket(dedupeBucket)
			events := tx.Bucket(eventsBucket)
			age.FillPercent = appendFill
			c := age.Cursor()
			for n := 0; ; n++ {
				k, _ := c.First()
				if len(k) < 8 || int64(binary.BigEndian.Uint64(k)) >= cutoff.Unix() {
					return nil
				}
				if n == pruneBatch {
					more = true
					return nil
				}
				k = bytes.Clone(k)
				key := k[8:]
				if err := age.Delete(k); err != nil {
					return err
				}
				// The key may have been stored again since (after an
				// earlier prune): only drop the entry of this time.
				v := dedupe.Get(key)
				if len(v) < 24 || !bytes.Equal(v[16:24], k[:8]) {
					continue
				}
				if events.Get(v[:8]) != nil {
					if err := restampDedupe(dedupe, age, key, v, now); err != nil {
						return err
					}
				} else if err := dedupe.Delete(key); err != nil {
					return err
				}
			}
		})
		if err != nil || !more {
			return err
		}
	}
}

// restampDedupe records now as the time of the dedupe key whose value is v
// (seq, id, time) and adds its age entry; the caller has removed the old
// one.
func restampDedupe(dedupe, age *bbolt.Bucket, key, v []byte, now time.Time) error {
	nv := append(append([]byte(nil), v[:16]...), dedupeAgeKey(now, "")...)
	nv = append(nv, v[24:]...)
	if err := dedupe.Put(key, nv); err != nil {
		return err
	}
	return age.Put(dedupeAgeKey(now, string(key)), nil)
}
