package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"
)

// schemaVersion is the layout this code writes. Version 0 is a file from
// before the indexes: its sends are indexed once at Open.
const schemaVersion = 1

var versionKey = []byte("version")

// migrate brings the layout up to schemaVersion. A file from a newer
// version is refused rather than misread.
func migrate(tx *bbolt.Tx) error {
	meta := tx.Bucket(metaBucket)
	var v uint64
	if data := meta.Get(versionKey); len(data) == 8 {
		v = binary.BigEndian.Uint64(data)
	}
	if v > schemaVersion {
		return fmt.Errorf("state schema version %d is newer than this build's %d", v, schemaVersion)
	}
	if v < 1 {
		if err := indexSends(tx); err != nil {
			return fmt.Errorf("migrate to version 1: %w", err)
		}
	}
	return meta.Put(versionKey, u64(schemaVersion))
}

// indexSends builds the state indexes of every send record. Undecodable
// records are left where they are, unindexed, as the old code skipped them.
func indexSends(tx *bbolt.Tx) error {
	sends := tx.Bucket(sendsBucket)
	return sends.ForEach(func(_, v []byte) error {
		var r Send
		if json.Unmarshal(v, &r) != nil {
			return nil
		}
		return index(tx, r)
	})
}
