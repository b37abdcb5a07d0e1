package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/modem"
	"github.com/simhook/simhook/store"
)

// Send states, as the API shows them (see store).
const (
	stateQueued  = store.Queued
	stateSending = store.Sending
	stateSent    = store.Sent
	stateFailed  = store.Failed
)

// Webhook statuses of a sent SMS (send_sms and send_sms_status_change).
const (
	statusUnknown   = "unknown"
	statusDelivered = "delivered"
	statusFailed    = "failed"
)

// sendRecord is a send request as the store keeps it.
type sendRecord = store.Send

// sendOutcome is a request's final state and webhook status.
type sendOutcome = store.Outcome

// SendRequest is what a user asks to send.
type SendRequest struct {
	To           string `json:"to"`
	Text         string `json:"text"`
	Phone        int    `json:"phone,omitempty"`
	Tag          string `json:"tag,omitempty"`
	StatusReport *bool  `json:"status_report,omitempty"`
}

// Send errors the API reports to the caller.
var (
	ErrInvalidRequest = errors.New("invalid send request")
	ErrUnknownPhone   = errors.New("unknown phone")
	ErrNotFound       = store.ErrNotFound
)

// Submit validates a request and commits it to the queue before returning,
// so an accepted request survives a crash. It returns the record as stored.
func (a *Agent) Submit(ctx context.Context, req SendRequest) (SendStatus, error) {
	if err := a.validateSend(req); err != nil {
		return SendStatus{}, err
	}
	if err := a.disk.refuse(); err != nil {
		a.counter.add("sends_refused_disk", 1)
		return SendStatus{}, err
	}
	rec, err := a.st.AddSend(ctx, sendRecord{
		To:           req.To,
		Text:         req.Text,
		Phone:        req.Phone,
		Tag:          req.Tag,
		StatusReport: req.StatusReport == nil || *req.StatusReport,
		Created:      a.now(),
	})
	if err != nil {
		return SendStatus{}, fmt.Errorf("queue send: %w", err)
	}
	a.counter.add("sends_accepted", 1)
	a.sends.kick()
	return statusOf(rec), nil
}

// validateSend refuses what can never be sent.
func (a *Agent) validateSend(req SendRequest) error {
	if err := modem.ValidNumber(req.To); err != nil {
		return fmt.Errorf("%w: to: %w", ErrInvalidRequest, err)
	}
	if strings.TrimSpace(req.Text) == "" {
		return fmt.Errorf("%w: text is empty", ErrInvalidRequest)
	}
	parts, err := modem.Parts(req.Text)
	if err != nil {
		return fmt.Errorf("%w: text: %w", ErrInvalidRequest, err)
	}
	if req.Phone != 0 && !a.hasPhone(req.Phone) {
		return fmt.Errorf("%w: %w %d", ErrInvalidRequest, ErrUnknownPhone, req.Phone)
	}
	return a.sendable(req, parts)
}

// sendable refuses a request that no configured phone could ever send: none
// (or not the one it names) may send to its destination, or the message has
// more parts than the limits of every phone that may.
func (a *Agent) sendable(req SendRequest, parts int) error {
	phones := a.cfg.Load().Phones
	if len(phones) == 0 {
		return nil // queued until a phone is configured
	}
	var mayAllow, fits bool
	for _, p := range phones {
		if req.Phone != 0 && p.ID != req.Phone || !allowed(p.Allow, req.To) {
			continue
		}
		mayAllow = true
		if !tooLarge(p.Limits, parts) {
			fits = true
		}
	}
	switch {
	case !mayAllow && req.Phone != 0:
		return fmt.Errorf("%w: phone %d may not send to %s (its allow list)", ErrInvalidRequest, req.Phone, req.To)
	case !mayAllow:
		return fmt.Errorf("%w: no phone may send to %s (their allow lists)", ErrInvalidRequest, req.To)
	case !fits:
		return fmt.Errorf("%w: the message has %d parts, more than the limits of any phone that may send it", ErrInvalidRequest, parts)
	}
	return nil
}

// hasPhone reports whether phone id is configured.
func (a *Agent) hasPhone(id int) bool {
	_, ok := a.phoneConfig(id)
	return ok
}

// phoneConfig returns phone id's current configuration.
func (a *Agent) phoneConfig(id int) (config.Phone, bool) {
	for _, p := range a.cfg.Load().Phones {
		if p.ID == id {
			return p, true
		}
	}
	return config.Phone{}, false
}

// SendStatus is what the API shows of a send request.
type SendStatus struct {
	ID        uint64 `json:"id"`
	State     string `json:"state"`
	Status    string `json:"status,omitempty"`
	To        string `json:"to"`
	Phone     int    `json:"phone,omitempty"`
	Tag       string `json:"tag"`
	Parts     int    `json:"parts,omitempty"`
	Refs      []int  `json:"refs,omitempty"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
	Created   string `json:"created"`
	SentAt    string `json:"sent_at,omitempty"`
	// Waiting says why a queued request is not being sent yet.
	Waiting *Waiting `json:"waiting,omitempty"`
}

// Waiting is why a queued request waits, and until when.
type Waiting struct {
	// For is phone (none up, free and allowed), limit (a phone's send
	// limit), send_gap (a phone's pause between sends) or retry (after a
	// transient error).
	For string `json:"for"`
	// Phone is the phone waited for, when it is one.
	Phone int `json:"phone,omitempty"`
	// Detail says it in words.
	Detail string `json:"detail"`
	// Until is when the wait ends (RFC 3339), when that is known.
	Until string `json:"until,omitempty"`
}

// statusOf renders a record for the API.
func statusOf(r sendRecord) SendStatus {
	s := SendStatus{ID: r.ID, State: r.State, Status: r.Status, To: r.To, Phone: r.UsedPhone, Tag: r.Tag,
		Refs: r.Refs, Attempts: r.Attempts, LastError: r.LastError, Created: r.Created.UTC().Format(time.RFC3339)}
	if n, err := modem.Parts(r.Text); err == nil {
		s.Parts = n
	}
	if !r.SentAt.IsZero() {
		s.SentAt = r.SentAt.UTC().Format(time.RFC3339)
	}
	return s
}

// SendStatusOf returns the state of send request id.
func (a *Agent) SendStatusOf(id uint64) (SendStatus, error) {
	rec, err := a.st.Send(id)
	if err != nil {
		return SendStatus{}, err
	}
	s := statusOf(rec)
	if rec.State == stateQueued {
		s.Waiting = a.waitingOf(rec)
	}
	return s, nil
}

// waitingOf says why queued request r waits: a retry's due time, or what
// the send queue found at its last look.
func (a *Agent) waitingOf(r sendRecord) *Waiting {
	if r.Unclaimed {
		return &Waiting{For: waitClaim, Detail: "fleet request " + r.RequestID + ": waiting to claim it on the fleet's server"}
	}
	if r.NotBefore.After(a.now()) {
		return &Waiting{For: waitRetry, Phone: r.Phone, Detail: "retry after: " + r.LastError, Until: r.NotBefore.UTC().Format(time.RFC3339)}
	}
	if a.sends == nil {
		return nil
	}
	w, ok := a.sends.waitOf(r.ID)
	if !ok {
		return nil
	}
	out := &Waiting{For: w.For, Phone: w.Phone, Detail: w.Detail}
	if !w.Until.IsZero() {
		out.Until = w.Until.UTC().Format(time.RFC3339)
	}
	return out
}
