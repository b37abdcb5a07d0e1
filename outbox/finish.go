package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// An event is finished when none of its deliveries is pending: each was
// delivered or is dead (or it had none). Its finish time is the latest
// time one of them settled (Done), or, without deliveries, the time it was
// stored. A finished event is filed under its finish time in doneBucket,
// or in deadDoneBucket if one of its deliveries is dead, where retention
// finds it without walking the events that are kept: it goes Retention
// after its finish time, or, with a dead delivery, the longer of Retention
// and DeadRetention after it.
//
// The entries are filed where deliveries settle (settle, the expiry of a
// disabled endpoint's deliveries) and where they change once settled
// (Retry, Purge). Retention checks each entry against the event's
// deliveries before it deletes anything, so an entry left behind (an event
// retried since) costs a look, never an event.

// schemaKey is the meta key of the file's layout version; a file without
// one is of version 1.
const schemaKey = "schema"

// schemaVersion is the layout this code writes. 2: finished events are
// indexed (doneBucket, deadDoneBucket).
const schemaVersion = 2

// migrateBatch bounds the events one migration transaction files.
const migrateBatch = 10000

// finishKey orders finished events by finish time, then sequence.
func finishKey(at time.Time, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(u64(uint64(max(at.UnixNano(), 0))), seq)
}

// finishKeyParts splits a finish key.
func finishKeyParts(k []byte) (at time.Time, seq uint64, ok bool) {
	if len(k) != 16 {
		return time.Time{}, 0, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(k))), binary.BigEndian.Uint64(k[8:]), true
}

// finishState is what an event's deliveries say of it.
type finishState struct {
	finished   bool      // none is pending (or unreadable)
	dead       bool      // one is dead
	at         time.Time // the latest Done among them
	deliveries int
}

// eventFinish reads an event's deliveries (one per endpoint it was for).
func eventFinish(tx *bbolt.Tx, seq uint64) finishState {
	fs := finishState{finished: true}
	prefix := u64(seq)
	c := tx.Bucket(deliveriesBucket).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		fs.deliveries++
		var d deliveryRecord
		if json.Unmarshal(v, &d) != nil {
			fs.finished = false // keep what cannot be read
			continue
		}
		switch d.State {
		case StateDelivered:
		case StateDead:
			fs.dead = true
		default:
			fs.finished = false
		}
		if d.Done.After(fs.at) {
			fs.at = d.Done
		}
	}
	return fs
}

// finishIndex is the index a finished event belongs in.
func (fs finishState) index() []byte {
	if fs.dead {
		return deadDoneBucket
	}
	return doneBucket
}

// fileFinished files the event seq under its finish time if none of its
// deliveries is pending; stored is its finish time if it has none.
func fileFinished(tx *bbolt.Tx, seq uint64, stored time.Time) error {
	fs := eventFinish(tx, seq)
	if !fs.finished {
		return nil
	}
	at := fs.at
	if fs.deliveries == 0 || at.IsZero() {
		at = stored
	}
	b := tx.Bucket(fs.index())
	b.FillPercent = appendFill // finish times mostly grow
	return b.Put(finishKey(at, seq), nil)
}

// unfileFinished removes the event's entry, before one of its settled
// deliveries changes (a retry, a purge).
func unfileFinished(tx *bbolt.Tx, seq uint64) error {
	fs := eventFinish(tx, seq)
	if !fs.finished || fs.deliveries == 0 {
		return nil
	}
	k := finishKey(fs.at, seq)
	if err := tx.Bucket(doneBucket).Delete(k); err != nil {
		return err
	}
	return tx.Bucket(deadDoneBucket).Delete(k)
}

// migrate brings a file of an earlier layout to schemaVersion, once: it
// files the finished events of a file written before they were indexed,
// migrateBatch to a transaction (an interrupted migration starts again;
// filing is idempotent), then records the version. A new file has nothing
// to file.
func migrate(db *bbolt.DB) error {
	var version uint64
	_ = db.View(func(tx *bbolt.Tx) error {
		version = getU64(tx.Bucket(metaBucket), schemaKey)
		return nil
	})
	if version >= schemaVersion {
		return nil
	}
	var from uint64
	for {
		more := false
		err := db.Update(func(tx *bbolt.Tx) error {
			c := tx.Bucket(eventsBucket).Cursor()
			n := 0
			for k, v := c.Seek(u64(from)); k != nil; k, v = c.Next() {
				if len(k) != 8 {
					continue
				}
				seq := binary.BigEndian.Uint64(k)
				if n == migrateBatch {
					from, more = seq, true
					return nil
				}
				n++
				// Without deliveries, an event of the old layout is filed
				// under its own time, as the old retention judged it.
				var e struct {
					Time time.Time `json:"time"`
				}
				_ = json.Unmarshal(v, &e)
				if err := fileFinished(tx, seq, e.Time); err != nil {
					return err
				}
			}
			return putU64(tx.Bucket(metaBucket), schemaKey, schemaVersion)
		})
		if err != nil {
			return fmt.Errorf("migrating to layout %d: %w", schemaVersion, err)
		}
		if !more {
			return nil
		}
	}
}
