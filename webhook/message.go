package webhook

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
)

// Message is one event as it travels to one endpoint: the parts that stay the
// same on every retry. The attempt's own time is not part of it; it is given
// to Encoder.NewRequest for each attempt.
type Message struct {
	// Type is the event type (webhook_type).
	Type Type
	// Timestamp is webhook_timestamp: Unix seconds when the event was generated.
	Timestamp int64
	// RandomID is webhook_random_id, made once per event and endpoint with
	// NewRandomID and kept for every retry; it is also the webhook-id header.
	RandomID string
	// Body is the event body of SPEC §1, a JSON object.
	Body json.RawMessage
}

// randomIDBytes is how many crypto-random bytes a random id carries.
const randomIDBytes = 16

// NewRandomID returns a fresh webhook_random_id for an event generated at
// timestamp (Unix seconds): "<timestamp>-<32 lowercase hex digits>", the hex
// digits from 16 bytes of crypto/rand.
func NewRandomID(timestamp int64) (string, error) {
	var b [randomIDBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("webhook: drawing a random id: %w", err)
	}
	out := make([]byte, 0, 20+1+2*randomIDBytes)
	out = strconv.AppendInt(out, timestamp, 10)
	out = append(out, '-')
	out = hex.AppendEncode(out, b[:])
	return string(out), nil
}
