package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/simhook/simhook/modem"
)

// slotsBucket maps a storage slot that holds a committed but not yet
// deleted SMS ("phone/storage/index") to the dedupe key its event was
// committed under.
//
// The dedupe key cannot be the message's content alone: the same sender
// can send the same text twice within one second (an alarm repeating
// itself), or to two of the gateway's SIMs, and the PDUs are then
// byte-identical. A content key merged such messages into one event and the
// driver deleted the second: a silent loss. The key is instead made unique
// when a message is first committed, and remembered per slot until the
// driver reports the slot deleted, so that reading the same stored message
// again (after a crash, or a failed delete) finds its key and is a
// duplicate, while a new message, even an identical one in a reused slot,
// gets a key of its own.
var slotsBucket = []byte("agent/slots")

// slotKey names one storage slot of one phone.
func slotKey(phone int, storage string, index int) []byte {
	return fmt.Appendf(nil, "%d/%s/%d", phone, storage, index)
}

// receiveDedupeKey returns the dedupe key for m: the key of the event
// already committed for this stored message if every slot of m is
// remembered with m's content, else a new unique one.
func (a *Agent) receiveDedupeKey(phone int, m *modem.Message) (string, error) {
	content := m.Key()
	if m.Storage != "" && len(m.Indexes) > 0 {
		var known string
		err := a.out.DB().View(func(tx *bbolt.Tx) error {
			b := tx.Bucket(slotsBucket)
			if b == nil {
				return nil
			}
			for i, idx := range m.Indexes {
				v := string(b.Get(slotKey(phone, m.Storage, idx)))
				if !strings.Contains(v, "/"+content+"/") || (i > 0 && v != known) {
					known = ""
					return nil
				}
				known = v
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("dedupe key: %w", err)
		}
		if known != "" {
			return known, nil
		}
	}
	nonce := make([]byte, 8)
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("dedupe key: %w", err)
	}
	return fmt.Sprintf("sms/%d/%s/%s/%s", phone, m.Storage, content, hex.EncodeToString(nonce)), nil
}

// rememberSlots records, in the transaction that commits m's event, that
// m's slots hold the message committed under key.
func rememberSlots(tx *bbolt.Tx, phone int, m *modem.Message, key string) error {
	if m.Storage == "" {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(slotsBucket)
	if err != nil {
		return err
	}
	for _, idx := range m.Indexes {
		if err := b.Put(slotKey(phone, m.Storage, idx), []byte(key)); err != nil {
			return err
		}
	}
	return nil
}

// HandleDeleted forgets m's slots once the driver deleted them: a message
// stored there later is a new one.
func (w *worker) HandleDeleted(ctx context.Context, m *modem.Message) {
	if m.Storage == "" {
		return
	}
	content := "/" + m.Key() + "/"
	err := w.a.out.Update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(slotsBucket)
		if b == nil {
			return nil
		}
		for _, idx := range m.Indexes {
			k := slotKey(w.id, m.Storage, idx)
			if strings.Contains(string(b.Get(k)), content) {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		// The slot stays remembered: only a byte-identical message in the
		// same slot would be mistaken for this one.
		w.log.Warn("could not forget the slots of a deleted SMS", "err", err)
	}
}
