package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/simhook/simhook/modem"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/store"
	"github.com/simhook/simhook/webhook"
)

// activeCall is the inbound call in progress on a phone.
type activeCall = store.Call

// HandleCall turns the driver's call events into inbound_call events: one
// with end null when the call starts ringing, and one with the same id and
// uid and end set when it ends.
func (w *worker) HandleCall(ctx context.Context, c modem.CallEvent) {
	var err error
	if c.Ended {
		err = w.endCall(ctx, c.At)
	} else {
		err = w.startCall(ctx, c)
	}
	if err != nil {
		w.a.counter.add("call_errors", 1)
		w.log.Error("call event not committed", "err", err, "ended", c.Ended)
	}
}

// startCall commits the first inbound_call of a call.
func (w *worker) startCall(ctx context.Context, c modem.CallEvent) error {
	a := w.a
	if cur, err := w.loadCall(); err != nil {
		return err
	} else if cur != nil {
		// The driver ends each call before it reports the next one, so a
		// call still stored is one whose end could not be committed. It is
		// closed now, or the new call would be taken for it.
		w.log.Warn("closing a call whose end was not recorded", "uid", cur.UID)
		if err := w.endCall(ctx, a.now()); err != nil {
			return fmt.Errorf("close the previous call: %w", err)
		}
	}
	call := activeCall{UID: newCallUID(), Start: orNow(c.At, a.now()), Origin: c.Number}
	_, err := a.out.Enqueue(ctx, outbox.Event{
		Type:       webhook.InboundCall,
		LocalTimes: []string{"start", "end"},
		Phone:      w.id,
		DedupeKey:  "call/" + call.UID + "/start",
		Time:       a.now(),
		Body: func(id uint64) ([]byte, error) {
			call.ID = id
			return json.Marshal(a.callBody(w.id, call, nil))
		},
		Also: a.st.StartCallHook(w.id, &call),
	})
	if err == nil {
		w.log.Info("inbound call", "origin", c.Number, "withheld", c.Number == "")
	}
	return err
}

// endCall commits the closing inbound_call of the phone's current call.
func (w *worker) endCall(ctx context.Context, at time.Time) error {
	a := w.a
	call, err := w.loadCall()
	if err != nil || call == nil {
		return err
	}
	end := orNow(at, a.now())
	_, err = a.out.Enqueue(ctx, outbox.Event{
		Type:       webhook.InboundCall,
		LocalTimes: []string{"start", "end"},
		Phone:      w.id,
		DedupeKey:  "call/" + call.UID + "/end",
		Time:       a.now(),
		Body: func(uint64) ([]byte, error) {
			return json.Marshal(a.callBody(w.id, *call, &end))
		},
		Also: a.st.EndCallHook(w.id),
	})
	if err == nil {
		w.log.Info("call ended", "origin", call.Origin, "duration", end.Sub(call.Start).Round(time.Second))
	}
	return err
}

// closeStaleCalls ends a call left ringing by a previous run: the agent was
// not watching, so the call is over by now.
func (w *worker) closeStaleCalls(ctx context.Context) {
	call, err := w.loadCall()
	if err != nil || call == nil {
		return
	}
	w.log.Info("closing a call left open by the previous run", "uid", call.UID)
	if err := w.endCall(ctx, w.a.now()); err != nil {
		w.log.Error("closing stale call", "err", err)
	}
}

// loadCall returns the phone's current call, or nil.
func (w *worker) loadCall() (*activeCall, error) { return w.a.st.ActiveCall(w.id) }

// callBody renders an inbound_call body; end is nil while the call rings.
func (a *Agent) callBody(phone int, c activeCall, end *time.Time) webhook.InboundCallBody {
	loc := a.loc.Load()
	body := webhook.InboundCallBody{
		ID:        int64(c.ID),
		IDUser:    a.cfg.Load().UserID,
		IDPhone:   phone,
		UID:       c.UID,
		Start:     webhook.FormatDate(c.Start, loc),
		Direction: "inbound",
	}
	if end != nil {
		s := webhook.FormatDate(*end, loc)
		body.End = &s
	}
	if c.Origin != "" {
		o := c.Origin
		body.Origin = &o
	}
	return body
}

// newCallUID makes a call's uid: 16 random bytes in hex.
func newCallUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// orNow returns t, or now when t is zero.
func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}
