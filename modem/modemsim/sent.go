package modemsim

import (
	"sort"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/tpdu"
)

// SentPart is one SMS-SUBMIT a client sent.
type SentPart struct {
	To                    string
	Text                  string // decoded text of this part
	Ref                   int    // the TP-MR answered in +CMGS
	ConcatRef, Seq, Total int    // from the UDH; 0 for a single part
	StatusReport          bool
	PDU                   []byte // the raw TPDU
	At                    time.Time
	raw                   *tpdu.TPDU
}

// SentMessage is a whole sent message, its parts reassembled.
type SentMessage struct {
	To    string
	Text  string
	Parts []SentPart
}

// Outcome is what the network reports for a sent message.
type Outcome int

// Outcomes.
const (
	Delivered              Outcome = iota // TP-ST 0x00
	Failed                                // permanent error, 0x41
	NoReport                              // no status report at all
	TemporaryThenDelivered                // 0x20 (still trying), then 0x00
	TemporaryThenFailed                   // 0x20, then 0x41
)

// SendRule says what happens to messages sent to a recipient.
type SendRule struct {
	Outcome     Outcome
	ReportDelay time.Duration
	// RefuseCMS, when not zero, makes +CMGS answer +CMS ERROR with it.
	RefuseCMS int
}

// SetSendRule sets the rule for a recipient ("" for everyone else).
func (m *Modem) SetSendRule(to string, r SendRule) {
	m.mu.Lock()
	m.rules[to] = r
	m.mu.Unlock()
}

// Sent returns every part sent, in order.
func (m *Modem) Sent() []SentPart {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]SentPart(nil), m.sent...)
}

// SentMessages reassembles Sent by recipient and concatenation reference,
// in send order.
func (m *Modem) SentMessages() []SentMessage {
	parts := m.Sent()
	type key struct {
		to  string
		ref int
	}
	var order []key
	groups := make(map[key][]SentPart)
	for i, p := range parts {
		k := key{p.To, p.ConcatRef}
		if p.Total == 0 {
			k.ref = -1 - i // single parts are messages of their own
		}
		if _, seen := groups[k]; !seen {
			order = append(order, k)
		}
		groups[k] = append(groups[k], p)
	}
	var out []SentMessage
	for _, k := range order {
		ps := groups[k]
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Seq < ps[j].Seq })
		segs := make([]*tpdu.TPDU, 0, len(ps))
		for _, p := range ps {
			segs = append(segs, p.raw)
		}
		text := ""
		if b, err := sms.Decode(segs); err == nil {
			text = string(b)
		} else {
			for _, p := range ps {
				text += p.Text
			}
		}
		out = append(out, SentMessage{To: k.to, Text: text, Parts: ps})
	}
	return out
}
