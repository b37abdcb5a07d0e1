package store

import (
	"bytes"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
)

// Check verifies the send indexes against the records: every decodable
// request sits in the bucket of its state (in progress or finished), once,
// and in exactly the index of its state, under the key its fields give, and
// every index entry names such a request; every hand-over counted for the
// send limits is well formed. Tests run it
// when each store closes; it reads the whole queue, so the agent does not.
func (s *Store) Check() error {
	var problems []error
	err := s.view(func(tx *bbolt.Tx) error {
		want := map[string]map[string]bool{}
		for _, name := range [][]byte{queuedBucket, openBucket, doneBucket} {
			want[string(name)] = map[string]bool{}
		}
		seen := map[uint64]bool{}
		reqIDs := map[string]uint64{}
		for _, name := range [][]byte{activeBucket, sendsBucket} {
			b := tx.Bucket(name)
			err := b.ForEach(func(k, v []byte) error {
				var r Send
				if ok, err := getJSON(b, k, &r); err != nil || !ok {
					return nil
				}
				if !bytes.Equal(k, u64(r.ID)) {
					problems = append(problems, fmt.Errorf("%s: send under key %x has id %d", name, k, r.ID))
				}
				if seen[r.ID] {
					problems = append(problems, fmt.Errorf("send %d is in both buckets", r.ID))
				}
				seen[r.ID] = true
				if r.RequestID != "" {
					reqIDs[r.RequestID] = r.ID
				}
				if r.Finished() != bytes.Equal(name, sendsBucket) {
					problems = append(problems, fmt.Errorf("%s: send %d in state %s", name, r.ID, r.State))
				}
				if name, key := indexKey(r); name != nil {
					want[string(name)][string(key)] = true
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		for name, keys := range want {
			b := tx.Bucket([]byte(name))
			err := b.ForEach(func(k, _ []byte) error {
				if !keys[string(k)] {
					problems = append(problems, fmt.Errorf("%s: entry %x names no request in that state", name, k))
				}
				delete(keys, string(k))
				return nil
			})
			if err != nil {
				return err
			}
			for k := range keys {
				problems = append(problems, fmt.Errorf("%s: entry %x missing", name, k))
			}
		}
		err := tx.Bucket(requestIDsBucket).ForEach(func(k, v []byte) error {
			if id, ok := reqIDs[string(k)]; !ok || len(v) != 8 || u64From(v) != id {
				problems = append(problems, fmt.Errorf("%s: %q → %x names no request with that id", requestIDsBucket, k, v))
			}
			delete(reqIDs, string(k))
			return nil
		})
		if err != nil {
			return err
		}
		for rid, id := range reqIDs {
			problems = append(problems, fmt.Errorf("%s: request %d's id %q is missing", requestIDsBucket, id, rid))
		}
		return tx.Bucket(usageBucket).ForEach(func(k, v []byte) error {
			if len(k) != 18 || len(v) != 4 {
				problems = append(problems, fmt.Errorf("%s: entry %x = %x is not a part's hand-over", usageBucket, k, v))
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	return errors.Join(problems...)
}
