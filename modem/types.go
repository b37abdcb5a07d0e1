package modem

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/simhook/simhook/internal/clock"
)

// Config configures one phone.
type Config struct {
	// ID is the phone's number in the configuration, carried in events.
	ID int
	// Port is the serial device; prefer a /dev/serial/by-id path.
	Port string
	// Match finds the port when Port is empty.
	Match Match
	// Baud is the line speed (default 115200).
	Baud int
	// PIN unlocks the SIM if it asks for one. A wrong PIN is never retried
	// blindly: three wrong tries lock the SIM.
	PIN string
	// Storage is where messages are kept: SM (default), ME or MT.
	Storage string
	// DeliveryReports asks the modem to store and announce status reports.
	DeliveryReports bool
	// RejectCalls hangs up incoming calls once the caller is known.
	RejectCalls bool
	// Init are extra AT commands sent after the standard initialisation.
	Init []string
	// CommandTimeout bounds each command (default 10s; sending 60s).
	CommandTimeout time.Duration
	// ProbeInterval is the health probe period (default 30s).
	ProbeInterval time.Duration
	// SweepInterval is the safety AT+CMGL period (default 10m).
	SweepInterval time.Duration
	// ConcatTimeout delivers an incomplete concatenated message as it is,
	// flagged, once its first part is this old (default 24h).
	ConcatTimeout time.Duration
	// RingGap ends a call when no RING came for this long (default 10s).
	RingGap time.Duration
	// Backoff paces reconnection.
	Backoff Backoff
	// RefSource gives the next concatenation reference for sends; nil
	// means an in-memory counter.
	RefSource func() (uint16, error)
	// Logger receives the driver's logs; nil discards them.
	Logger *slog.Logger
	// Trace logs every line exchanged with the modem at debug level, PINs
	// masked (SetTrace changes it on a running phone).
	Trace bool
	// Clock times every wait of the phone: command timeouts, probes,
	// sweeps, ring gaps, reassembly timeouts, reconnection backoff. Nil
	// means the real clock; tests inject a fake one.
	Clock clock.Clock

	// devPoll and matchDirs override devPollEvery and matchDirs (tests).
	devPoll   time.Duration
	matchDirs []string
}

// Match identifies a modem by USB id, IMEI or ICCID.
type Match struct{ USB, IMEI, ICCID string }

// Backoff is a capped exponential reconnection delay.
type Backoff struct{ Initial, Max time.Duration }

func (c Config) withDefaults() Config {
	if c.Baud <= 0 {
		c.Baud = 115200
	}
	if c.Storage == "" {
		c.Storage = "SM"
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = 10 * time.Second
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = 30 * time.Second
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = 10 * time.Minute
	}
	if c.ConcatTimeout <= 0 {
		c.ConcatTimeout = 24 * time.Hour
	}
	if c.RingGap <= 0 {
		c.RingGap = 10 * time.Second
	}
	if c.Backoff.Initial <= 0 {
		c.Backoff.Initial = time.Second
	}
	if c.Backoff.Max <= 0 {
		c.Backoff.Max = time.Minute
	}
	c.Clock = clock.Or(c.Clock)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.devPoll <= 0 {
		c.devPoll = devPollEvery
	}
	if c.matchDirs == nil {
		c.matchDirs = matchDirs
	}
	return c
}

// Handler receives what the phone produces. Calls come from the phone's own
// goroutine, one at a time, in order.
type Handler interface {
	// HandleSMS gets one complete message. Its parts are deleted from the
	// modem only after it returns nil; on error they stay and are offered
	// again later.
	HandleSMS(ctx context.Context, m *Message) error
	// HandleMalformed gets a stored PDU that cannot be decoded, or a part
	// whose concatenation header is impossible (a count of 0, a sequence
	// number of 0 or above the count, a count that disagrees with the
	// waiting parts of the same sender and reference); it is deleted only
	// after this returns nil. The index is -1 for a message routed
	// directly (+CMT), which is acknowledged only after nil.
	HandleMalformed(ctx context.Context, phone, index int, pdu []byte, err error) error
	// HandleStatusReport gets a delivery report; a stored one is deleted
	// after nil.
	HandleStatusReport(ctx context.Context, r *StatusReport) error
	// HandleCall gets the start and the end of each incoming call.
	HandleCall(ctx context.Context, c CallEvent)
	// HandleState gets every change of the phone's state.
	HandleState(s State)
}

// Confirmer is implemented by a Handler that wants to know when a message
// it accepted has been deleted from the modem. Until then the message may
// be read again (after a crash, a failed delete); afterwards its slots may
// hold new messages, even byte-identical ones (the same text from the same
// sender within the same second).
type Confirmer interface {
	HandleDeleted(ctx context.Context, m *Message)
}

// Message is one received SMS, all its parts joined.
type Message struct {
	// Phone is Config.ID of the phone that received it.
	Phone int
	// Originator is "+" and digits for an international number, the
	// digits as sent for a national one, or the alphanumeric sender.
	Originator string
	// Text is the decoded text; for 8-bit data a readable rendering (the
	// bytes if printable ASCII, else "0x" and hex).
	Text string
	// Data is the raw user data of an 8-bit message.
	Data []byte
	// Encoding is gsm7, ucs2 or 8bit.
	Encoding string
	// SCTS is the service centre's timestamp, in the PDU's zone.
	SCTS time.Time
	// Parts is the number of parts the message has (or announced).
	Parts int
	// Incomplete: delivered with parts missing (ConcatTimeout, or the
	// storage full of waiting parts).
	Incomplete bool
	// PDUs are the TPDUs of the parts present, in part order.
	PDUs [][]byte
	// Storage is where the parts are stored ("" for a +CMT message).
	Storage string
	// Indexes are the parts' storage slots, in part order.
	Indexes []int
}

// Key identifies the message's content, for de-duplication across crashes:
// the hex SHA-256 of its PDUs.
func (m *Message) Key() string {
	h := sha256.New()
	for _, p := range m.PDUs {
		h.Write(p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ReportClass is what a status report says, by 3GPP TS 23.040 9.2.3.15.
type ReportClass int

// Report classes.
const (
	// Delivered: the message reached the recipient (TP-ST 0x00-0x1F).
	Delivered ReportClass = iota
	// Pending: a temporary error, the centre still tries (0x20-0x3F).
	Pending
	// Failed: a permanent error, or a temporary one the centre gave up on
	// (0x40-0x7F).
	Failed
)

// ClassOf classifies a TP-ST value.
func ClassOf(st int) ReportClass {
	switch {
	case st < 0x20:
		return Delivered
	case st < 0x40:
		return Pending
	default:
		return Failed
	}
}

// StatusReport is a delivery report.
type StatusReport struct {
	// Phone is Config.ID of the phone that received it.
	Phone int
	// Ref is the TP-MR of the sent part it reports on.
	Ref int
	// Recipient is the number the part was sent to.
	Recipient string
	// ST is the raw TP-ST status.
	ST int
	// Class is what ST means.
	Class ReportClass
	// SCTS is when the centre received the part; Discharge when the
	// status was reached.
	SCTS, Discharge time.Time
	// Index is the storage slot of a stored report; -1 for +CDS.
	Index int
}

// CallEvent is the start (Ended false) or end of an incoming call.
type CallEvent struct {
	// Phone is Config.ID of the phone that rang.
	Phone int
	// Ended is false at the start of the call, true at its end.
	Ended bool
	// Number is the caller's number at the start; "" when withheld.
	Number string
	// At is when the call started (first RING or +CLIP) or ended.
	At time.Time
	// Rejected: the driver hung up (Config.RejectCalls).
	Rejected bool
}

// State is what the phone reports about itself.
type State struct {
	// Phone is Config.ID.
	Phone int
	// Status is up, down or connecting.
	Status string
	// Signal is the +CSQ rssi, 0-31, or 99 when unknown.
	Signal int
	// Registration is home, roaming, searching, denied, not registered
	// or unknown.
	Registration string
	// Operator, Manufacturer, Model, IMEI and ICCID are what the modem
	// said about itself at its last initialisation.
	Operator, Manufacturer, Model, IMEI, ICCID string
	// Port is the serial port in use.
	Port string
	// LastError is why the phone last went down.
	LastError string
	// Absent: the phone is down because its device is missing (unplugged,
	// re-enumerating); it is opened as soon as it appears.
	Absent bool
	// Reconnects counts the times a session ended and the phone went down.
	Reconnects int
	// Since is when Status last changed.
	Since time.Time
}
