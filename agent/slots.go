package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/simhook/simhook/modem"
)

// receiveDedupeKey returns the dedupe key for m: the key of the event
// already committed for this stored message if every slot of m is
// remembered with m's content, else a new unique one.
func (a *Agent) receiveDedupeKey(phone int, m *modem.Message) (string, error) {
	content := m.Key()
	if m.Storage != "" && len(m.Indexes) > 0 {
		keys, err := a.st.SlotKeys(phone, m.Storage, m.Indexes)
		if err != nil {
			return "", fmt.Errorf("dedupe key: %w", err)
		}
		var known string
		for i, v := range keys {
			if !strings.Contains(v, "/"+content+"/") || (i > 0 && v != known) {
				known = ""
				break
			}
			known = v
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

// HandleDeleted forgets m's slots once the driver deleted them: a message
// stored there later is a new one.
func (w *worker) HandleDeleted(ctx context.Context, m *modem.Message) {
	if m.Storage == "" {
		return
	}
	content := "/" + m.Key() + "/"
	if err := w.a.st.ForgetSlots(ctx, w.id, m.Storage, m.Indexes, content); err != nil {
		// The slot stays remembered: only a byte-identical message in the
		// same slot would be mistaken for this one.
		w.log.Warn("could not forget the slots of a deleted SMS", "err", err)
	}
}
