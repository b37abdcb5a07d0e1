package agent

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"go.etcd.io/bbolt"
)

// MalformedPDU is what the agent keeps of a stored PDU the driver could not
// decode, or of a part of a concatenated message whose numbering is
// impossible (a sequence number of 0 or above the count, a count of 0, a
// count that disagrees with the other waiting parts). The driver deletes it
// from the modem only once this record is committed, so the bytes are never
// lost; an operator can read them with `simhook outbox malformed` and decode
// them by hand.
type MalformedPDU struct {
	// Seq numbers the records in the order they were kept.
	Seq uint64 `json:"seq"`
	// Phone and Index are the phone and storage slot it was read from
	// (Index -1 for a message the modem routed without storing it).
	Phone int `json:"phone"`
	Index int `json:"index"`
	// PDU is the TPDU as read, in hex.
	PDU string `json:"pdu"`
	// Error is why it could not be decoded.
	Error string `json:"error"`
	// At is when it was read, in UTC (RFC 3339).
	At string `json:"at"`
}

// MalformedPDUs returns up to limit kept PDUs, newest first.
func (a *Agent) MalformedPDUs(limit int) ([]MalformedPDU, error) {
	out := []MalformedPDU{}
	err := a.out.DB().View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(malformedBucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var m MalformedPDU
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("malformed PDU record %x: %w", k, err)
			}
			m.Seq = binary.BigEndian.Uint64(k)
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// handleMalformed serves GET /v1/malformed?limit=N.
func (a *Agent) handleMalformed(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 10000 {
		limit = 100
	}
	list, err := a.MalformedPDUs(limit)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}
