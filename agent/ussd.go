package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/simhook/simhook/modem"
)

// USSD timeouts: the API's default, and its bounds (the API's write
// timeout must leave room for the answer).
const (
	defaultUSSDTimeout = 30 * time.Second
	maxUSSDTimeout     = 50 * time.Second
)

// USSDRequest is a USSD code to send through a phone (POST /v1/ussd).
type USSDRequest struct {
	Phone int    `json:"phone"`
	Code  string `json:"code"`
	// Timeout bounds the wait for the network's answer, a Go duration
	// from 1s to 50s. Default 30s.
	Timeout string `json:"timeout,omitempty"`
}

// USSDResult is the network's answer to a USSD code.
type USSDResult struct {
	Phone int    `json:"phone"`
	Code  string `json:"code"`
	// Status is the +CUSD status: 0 done, 1 the network asks for more (the
	// session was closed), 2 ended by the network.
	Status int `json:"status"`
	// Text is the answer, decoded from GSM 7-bit or UCS-2.
	Text string `json:"text"`
	// DCS is the data coding scheme the network gave (-1 when absent).
	DCS int `json:"dcs"`
}

// USSD sends a USSD code through a phone and returns the network's answer.
// Errors: ErrInvalidRequest (no phone, a bad code or timeout),
// ErrUnknownPhone, modem.ErrNotReady (the phone is not up),
// modem.ErrUSSDTimeout (no answer in time), modem.ErrUSSD (the network or
// the modem refused).
func (a *Agent) USSD(ctx context.Context, req USSDRequest) (USSDResult, error) {
	timeout := defaultUSSDTimeout
	if req.Timeout != "" {
		d, err := time.ParseDuration(req.Timeout)
		if err != nil || d < time.Second || d > maxUSSDTimeout {
			return USSDResult{}, fmt.Errorf("%w: timeout %q: want a duration from 1s to %s", ErrInvalidRequest, req.Timeout, maxUSSDTimeout)
		}
		timeout = d
	}
	if req.Phone < 1 {
		return USSDResult{}, fmt.Errorf("%w: phone: give the id of the phone to ask through", ErrInvalidRequest)
	}
	if err := modem.ValidUSSDCode(req.Code); err != nil {
		return USSDResult{}, fmt.Errorf("%w: code: %w", ErrInvalidRequest, err)
	}
	w, err := a.worker(req.Phone)
	if err != nil {
		return USSDResult{}, err
	}
	reply, err := w.ussd(ctx, req.Code, timeout)
	if err != nil {
		a.counter.add("ussd_errors", 1)
		return USSDResult{}, fmt.Errorf("phone %d: %w", req.Phone, err)
	}
	a.counter.add("ussd_requests", 1)
	return USSDResult{Phone: req.Phone, Code: req.Code, Status: reply.Status, Text: reply.Text, DCS: reply.DCS}, nil
}

// ussd sends a USSD code through the phone's driver.
func (w *worker) ussd(ctx context.Context, code string, timeout time.Duration) (modem.USSDReply, error) {
	if !w.up() {
		return modem.USSDReply{}, fmt.Errorf("%w (%s)", modem.ErrNotReady, w.State().Status)
	}
	return w.phone.USSD(ctx, code, timeout)
}
