package receiver

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// jsonlRecord is one line of Options.JSONL.
type jsonlRecord struct {
	ReceivedAt       time.Time       `json:"received_at"`
	Verdict          Outcome         `json:"verdict"`
	Status           int             `json:"status"`
	Reasons          []string        `json:"reasons,omitempty"`
	Method           string          `json:"method"`
	Format           string          `json:"format"`
	WebhookID        string          `json:"webhook_id,omitempty"`
	WebhookType      string          `json:"webhook_type,omitempty"`
	WebhookTimestamp int64           `json:"webhook_timestamp,omitempty"`
	AttemptTimestamp int64           `json:"attempt_timestamp,omitempty"`
	Legacy           string          `json:"legacy"`
	Standard         string          `json:"standard"`
	Body             json.RawMessage `json:"body,omitempty"`
	RawBody          string          `json:"raw_body,omitempty"`
}

// checkWord is a check's state in one word: valid, invalid or absent.
func checkWord(c Check) string {
	switch {
	case c.OK:
		return "valid"
	case c.Present:
		return "invalid"
	}
	return "absent"
}

// writeJSONL appends v to w as one line of JSON. Parsed events carry their
// body as JSON; anything else keeps the raw body as a string, so nothing
// received is lost from the file.
func writeJSONL(w io.Writer, v Verdict) error {
	rec := jsonlRecord{
		ReceivedAt: v.At.UTC(), Verdict: v.Outcome, Status: v.Status, Reasons: v.Reasons,
		Method: v.Method, Format: v.Format, WebhookID: v.ID,
		Legacy: checkWord(v.Legacy), Standard: checkWord(v.Standard),
	}
	if !v.SentAt.IsZero() {
		rec.AttemptTimestamp = v.SentAt.Unix()
	}
	if v.Event != nil {
		rec.WebhookType, rec.WebhookTimestamp, rec.Body = string(v.Event.Type), v.Event.Timestamp, v.Event.Body
	} else if len(v.Report.Body) > 0 {
		rec.RawBody = string(v.Report.Body)
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("receiver: encoding a JSON line: %w", err)
	}
	if _, err := w.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("receiver: writing a JSON line: %w", err)
	}
	return nil
}
