package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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
	if _, err := modem.Parts(req.Text); err != nil {
		return fmt.Errorf("%w: text: %w", ErrInvalidRequest, err)
	}
	if req.Phone != 0 && !a.hasPhone(req.Phone) {
		return fmt.Errorf("%w: %w %d", ErrInvalidRequest, ErrUnknownPhone, req.Phone)
	}
	return nil
}

// hasPhone reports whether phone id is configured.
func (a *Agent) hasPhone(id int) bool {
	for _, p := range a.cfg.Load().Phones {
		if p.ID == id {
			return true
		}
	}
	return false
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
	return statusOf(rec), nil
}
