package outbox

import (
	"encoding/binary"
	"encoding/json"
	"strings"

	"go.etcd.io/bbolt"
)

// countsBucket keeps running totals so Stats reads a handful of keys
// instead of walking a backlog that may be a million deliveries long:
// "events", "type/<type>", and "pending/", "dead/" and "delivered/"
// followed by an endpoint name. They change in the
// same transactions as the records they count.
var countsBucket = []byte("outbox/counts")

// addCount adds d to a counter; a counter back at zero is deleted.
func addCount(tx *bbolt.Tx, key string, d int64) error {
	b := tx.Bucket(countsBucket)
	var n int64
	if v := b.Get([]byte(key)); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += d
	if n <= 0 {
		return b.Delete([]byte(key))
	}
	return b.Put([]byte(key), u64(uint64(n)))
}

// countsView is every counter.
type countsView struct {
	events                   int
	byType                   map[string]int
	pending, dead, delivered map[string]int // by endpoint
}

// counts reads every counter.
func counts(tx *bbolt.Tx) countsView {
	cv := countsView{byType: map[string]int{}, pending: map[string]int{}, dead: map[string]int{}, delivered: map[string]int{}}
	_ = tx.Bucket(countsBucket).ForEach(func(k, v []byte) error {
		if len(v) != 8 {
			return nil
		}
		n := int(binary.BigEndian.Uint64(v))
		kind, name, _ := strings.Cut(string(k), "/")
		switch kind {
		case "events":
			cv.events = n
		case "type":
			cv.byType[name] = n
		case "pending":
			cv.pending[name] = n
		case "dead":
			cv.dead[name] = n
		case "delivered":
			cv.delivered[name] = n
		}
		return nil
	})
	return cv
}

// ensureCounts creates the counters of a file that has none, from its
// indexes (a one-time walk).
func ensureCounts(tx *bbolt.Tx) error {
	if tx.Bucket(countsBucket) != nil {
		return nil
	}
	if _, err := tx.CreateBucket(countsBucket); err != nil {
		return err
	}
	for key, n := range recount(tx) {
		if err := addCount(tx, key, n); err != nil {
			return err
		}
	}
	return nil
}

// putDead records a dead delivery.
func putDead(tx *bbolt.Tx, seq uint64, endpoint string) error {
	if err := tx.Bucket(deadBucket).Put(deliveryKey(seq, endpoint), nil); err != nil {
		return err
	}
	return addCount(tx, "dead/"+endpoint, 1)
}

// deleteDead forgets a dead delivery (retried or purged); k is its key.
func deleteDead(tx *bbolt.Tx, k []byte) error {
	if len(k) <= 8 {
		return nil
	}
	if err := tx.Bucket(deadBucket).Delete(k); err != nil {
		return err
	}
	return addCount(tx, "dead/"+string(k[8:]), -1)
}

// recount walks the records and indexes to compute every counter afresh.
func recount(tx *bbolt.Tx) map[string]int64 {
	perName := make(map[string]int64)
	_ = tx.Bucket(eventsBucket).ForEach(func(_, v []byte) error {
		var e eventRecord
		if json.Unmarshal(v, &e) == nil {
			perName["events"]++
			perName["type/"+string(e.Type)]++
		}
		return nil
	})
	_ = tx.Bucket(deliveriesBucket).ForEach(func(k, v []byte) error {
		var d deliveryRecord
		if len(k) > 8 && json.Unmarshal(v, &d) == nil && d.State == StateDelivered {
			perName["delivered/"+string(k[8:])]++
		}
		return nil
	})
	_ = tx.Bucket(pendingBucket).ForEach(func(k, _ []byte) error {
		if _, ok := pendingKeySeq(k); ok {
			perName["pending/"+string(k[:len(k)-9])]++
		}
		return nil
	})
	_ = tx.Bucket(deadBucket).ForEach(func(k, _ []byte) error {
		if len(k) > 8 {
			perName["dead/"+string(k[8:])]++
		}
		return nil
	})
	return perName
}
