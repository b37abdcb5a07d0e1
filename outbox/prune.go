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

// prune deletes events older than Retention whose deliveries were all
// delivered more than Retention ago (dead ones stay for inspection until
// purged), and dedupe keys older than Retention whose event is gone. It
// works in bounded transactions.
//
// The clock may have jumped forward since the times compared were stamped
// (a Raspberry Pi boots behind, then NTP syncs), so "older than Retention"
// may be wrong; a dedupe key is therefore never dropped while its event is
// still stored, and counts its age again from the last prune that found
// the event, so it outlives the event by Retention or more.
func (o *Outbox) prune(now time.Time, retention time.Duration) (int, error) {
	cutoff := now.Add(-retention)
	total := 0
	var from uint64
	for {
		n, next, more, err := o.pruneEvents(cutoff, from)
		total += n
		if err != nil || !more {
			if err == nil {
				err = o.pruneDedupe(now, cutoff)
			}
			return total, err
		}
		from = next
	}
}

// pruneEvents scans up to pruneBatch events from seq from.
func (o *Outbox) pruneEvents(cutoff time.Time, from uint64) (n int, next uint64, more bool, err error) {
	err = o.db.Update(func(tx *bbolt.Tx) error {
		events := tx.Bucket(eventsBucket)
		deliveries := tx.Bucket(deliveriesBucket)
		c := events.Cursor()
		scanned := 0
		type victim struct {
			seq uint64
			typ webhook.Type
		}
		var victims []victim
	scan:
		for k, v := c.Seek(u64(from)); k != nil; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			next = seq + 1
			if scanned++; scanned > pruneBatch {
				more = true
				break
			}
			var e eventRecord
			if json.Unmarshal(v, &e) != nil || !e.Time.Before(cutoff) {
				if e.Time.After(cutoff) {
					break scan // events are in time order: the rest are newer
				}
				continue
			}
			done := true
			dc := deliveries.Cursor()
			for dk, dv := dc.Seek(k); dk != nil && bytes.HasPrefix(dk, k); dk, dv = dc.Next() {
				var d deliveryRecord
				if json.Unmarshal(dv, &d) != nil || d.State != StateDelivered || !d.Done.Before(cutoff) {
					done = false
					break
				}
			}
			if done {
				victims = append(victims, victim{seq, e.Type})
			}
		}
		for _, vi := range victims {
			k := u64(vi.seq)
			var keys [][]byte
			dc := deliveries.Cursor()
			for dk, _ := dc.Seek(k); dk != nil && bytes.HasPrefix(dk, k); dk, _ = dc.Next() {
				keys = append(keys, append([]byte(nil), dk...))
			}
			for _, dk := range keys {
				if err := deliveries.Delete(dk); err != nil {
					return err
				}
				if err := addCount(tx, "delivered/"+string(dk[8:]), -1); err != nil {
					return err
				}
			}
			if err := events.Delete(k); err != nil {
				return err
			}
			if err := addCount(tx, "events", -1); err != nil {
				return err
			}
			if err := addCount(tx, "type/"+string(vi.typ), -1); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, next, more, err
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
