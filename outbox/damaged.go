package outbox

import (
	"encoding/json"
	"sort"

	"go.etcd.io/bbolt"
)

// recordDamaged remembers a moved-aside file in the fresh file's meta
// bucket, counts it, and starts the fresh file's id sequences after the
// highest ids the damaged one shows, so that ids are never reused.
func (o *Outbox) recordDamaged(d Damaged) error {
	o.metrics.add("damaged", "", "", 1)
	maxIDs := map[string]uint64{}
	if s, err := ScanFile(d.Path); err == nil {
		maxIDs = s.MaxIDs
	}
	v, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return o.db.Update(func(tx *bbolt.Tx) error {
		ids := tx.Bucket(idsBucket)
		for typ, max := range maxIDs {
			if b := ids.Bucket([]byte(typ)); b != nil && b.Sequence() < max {
				if err := b.SetSequence(max); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(metaBucket).Put([]byte(damagedMetaPrefix+d.Path), v)
	})
}

// DamagedFiles lists the outbox files found damaged and moved aside, oldest
// first.
func (o *Outbox) DamagedFiles() ([]Damaged, error) {
	var out []Damaged
	err := o.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(metaBucket).Cursor()
		prefix := []byte(damagedMetaPrefix)
		for k, v := c.Seek(prefix); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == damagedMetaPrefix; k, v = c.Next() {
			var d Damaged
			if json.Unmarshal(v, &d) == nil {
				out = append(out, d)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, err
}
