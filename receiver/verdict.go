package receiver

import "time"

// Outcome is what a Receiver did with a request.
type Outcome string

// The three outcomes.
const (
	// Accepted: genuine, fresh and new; answered 200.
	Accepted Outcome = "accepted"
	// Duplicate: genuine and fresh, but its id was accepted before; answered
	// 200 so the sender stops retrying, and not handed on again.
	Duplicate Outcome = "duplicate"
	// Rejected: malformed, badly signed or stale; answered 4xx.
	Rejected Outcome = "rejected"
)

// Verdict is a Receiver's decision on one request, with the checks behind it.
type Verdict struct {
	Report
	// At is when the request was judged.
	At time.Time
	// Outcome is the decision.
	Outcome Outcome
	// Status is the HTTP status code answered.
	Status int
	// Reasons says, for a rejected request, what was wrong, in plain words.
	Reasons []string
	// RemoteAddr is the sender's address.
	RemoteAddr string
}

// Stats counts a Receiver's verdicts since it was made.
type Stats struct {
	// Accepted counts requests accepted.
	Accepted int64
	// Duplicates counts genuine requests whose id had been accepted before.
	Duplicates int64
	// Rejected counts requests refused for any reason.
	Rejected int64
	// WriteErrors counts failed writes to Out or JSONL (the verdicts stand).
	WriteErrors int64
}
