package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/simhook/simhook/internal/clock"
	"github.com/simhook/simhook/modem"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/webhook"
)

// commitRetry is how long persist waits between tries.
const commitRetry = 2 * time.Second

// commitPersistently commits a request's outcome, trying again while the
// state file refuses writes (a full disk), until it works or the send is
// aborted by a stop. After a first failure the decided outcome is written on
// its own if possible, so a restart commits it rather than "unknown". The
// phone stays claimed meanwhile: nothing more is sent through it while
// outcomes cannot be recorded.
func (q *sendQueue) commitPersistently(ctx context.Context, r sendRecord, outcome sendOutcome) error {
	first := true
	return q.persist(ctx, r.ID, "recording send outcome", func() error {
		err := q.a.commitSend(ctx, r, outcome.State, outcome.Status, r.Refs)
		if err != nil && first {
			first = false
			r.Outcome = &outcome
			_ = q.a.st.SaveSend(ctx, r)
		}
		return err
	})
}

// persist runs write until it succeeds or ctx ends, counting and logging
// each failure.
func (q *sendQueue) persist(ctx context.Context, id uint64, what string, write func() error) error {
	for {
		err := write()
		if err == nil {
			return nil
		}
		q.a.counter.add("send_commit_errors", 1)
		q.a.log.Error(what+"; will try again", "send", id, "err", err, "in", commitRetry)
		if !clock.Sleep(q.clock, commitRetry, ctx.Done()) {
			return err
		}
	}
}

// allParts reports whether accepted parts are the whole of text.
func allParts(text string, accepted int) bool {
	n, err := modem.Parts(text)
	return err == nil && accepted >= n
}

// unconfirmedOutcome is the state and webhook status of a request whose part
// after the accepted ones reached the modem without a verdict. When that was
// the last part, every part may be on its way and the status is unknown, as
// after a restart mid-send. Otherwise later parts were never handed over, so
// the message cannot arrive whole: it failed.
func unconfirmedOutcome(text string, accepted int) sendOutcome {
	if n, err := modem.Parts(text); err == nil && accepted+1 >= n {
		return sendOutcome{State: stateSent, Status: statusUnknown}
	}
	return sendOutcome{State: stateFailed, Status: statusFailed}
}

// commitSend records a request's final hand-over state and its send_sms event
// in one transaction, together with the references that delivery reports
// will be matched against.
func (a *Agent) commitSend(ctx context.Context, r sendRecord, state, status string, refs []int) error {
	r.State, r.Status, r.Refs, r.Outcome = state, status, refs, nil
	if r.SentAt.IsZero() {
		r.SentAt = a.now()
	}
	// One status per part of the message, not per reference: a part that
	// reached the modem without one keeps the whole from "delivered".
	parts := len(refs)
	if n, err := modem.Parts(r.Text); err == nil && n > parts {
		parts = n
	}
	r.Parts = make([]string, parts)
	loc := a.loc.Load()
	origin := a.originPhone(r)
	_, err := a.out.Enqueue(context.WithoutCancel(ctx), outbox.Event{
		Type:       webhook.SendSMS,
		LocalTimes: []string{"at"},
		Phone:      origin,
		DedupeKey:  fmt.Sprintf("send/%d", r.ID),
		Time:       a.now(),
		Body: func(uint64) ([]byte, error) {
			return json.Marshal(webhook.SendSMSBody{
				ID:          int64(r.ID),
				At:          webhook.FormatDate(r.SentAt, loc),
				Status:      status,
				Text:        r.Text,
				Destination: r.To,
				Origin:      origin,
				MMS:         false,
				Medias:      []string{},
				Tag:         r.Tag,
			})
		},
		Also: a.st.SaveSendHook(r),
	})
	if err != nil {
		return fmt.Errorf("commit send %d: %w", r.ID, err)
	}
	a.kickReliability()
	return nil
}

// originPhone is the phone id a request's send_sms event names as its
// origin, and the phone its outbox event is routed by, so an endpoint's
// phones filter applies. SPEC §1 makes origin a phone id, but a send can fail
// before any phone took it (it timed out in the queue, every phone it could
// use disabled or down). Then the origin is the phone the request named, if
// it named one, otherwise the lowest id among the phones configured at the
// time of failure: a stable choice a receiver can document. It is 0 only when
// no phone is configured at all.
func (a *Agent) originPhone(r sendRecord) int {
	if r.UsedPhone != 0 {
		return r.UsedPhone
	}
	if r.Phone != 0 {
		return r.Phone
	}
	lowest := 0
	for _, p := range a.cfg.Load().Phones {
		if lowest == 0 || p.ID < lowest {
			lowest = p.ID
		}
	}
	return lowest
}
