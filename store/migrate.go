package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"
)

// schemaVersion is the layout this code writes. Version 0 is a file from
// before the indexes, with every request in agent/sends: at Open, requests
// in progress move to agent/sends-active (which takes over the id
// sequence) and every request is indexed, once.
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

// indexSends moves the requests in progress to the active bucket and
// builds the state indexes of every request. Undecodable records are left
// where they are, unindexed, as the old code skipped them.
func indexSends(tx *bbolt.Tx) error {
	sends, active := tx.Bucket(sendsBucket), tx.Bucket(activeBucket)
	if err := active.SetSequence(max(active.Sequence(), sends.Sequence())); err != nil {
		return err
	}
	var move []Send
	err := sends.ForEach(func(_, v []byte) error {
		var r Send
		if json.Unmarshal(v, &r) != nil {
			return nil
		}
		if !r.Finished() {
			move = append(move, r)
		}
		return index(tx, r)
	})
	if err != nil {
		return err
	}
	for _, r := range move {
		if err := putJSON(active, u64(r.ID), r); err != nil {
			return err
		}
		if err := sends.Delete(u64(r.ID)); err != nil {
			return err
		}
	}
	return nil
}
