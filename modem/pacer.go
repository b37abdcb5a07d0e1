package modem

import "time"

// pacer decides how long a phone waits before its next session. Only
// sessions that fail with the device present are paced, exponentially from
// Initial to Max; a session that reached up starts the count again, and a
// missing device is not paced at all (the phone waits for it to appear).
type pacer struct {
	b    Backoff
	next time.Duration
}

func newPacer(b Backoff) *pacer { return &pacer{b: b, next: b.Initial} }

// ended records a session's end and returns the wait before the next one:
// 0 when the device is missing, else the current backoff (Initial again if
// the session had reached up), which then doubles up to Max.
func (p *pacer) ended(reachedUp, deviceMissing bool) time.Duration {
	if reachedUp {
		p.next = p.b.Initial
	}
	if deviceMissing {
		return 0
	}
	d := p.next
	p.next = min(p.next*2, p.b.Max)
	return d
}
