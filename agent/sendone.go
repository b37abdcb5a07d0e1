package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/simhook/simhook/modem"
	"github.com/simhook/simhook/store"
)

// errHandOver means a part's hand-over to the modem could not be recorded,
// so it was not handed over.
var errHandOver = errors.New("recording the hand-over to the modem")

// handOverRetry is how long a send whose hand-over could not be recorded
// waits before it is tried again.
const handOverRetry = 5 * time.Second

// sendDecision is what becomes of a request once its phone answered.
type sendDecision struct {
	// requeue puts the request back in the queue, due after wait; it was
	// not sent. Otherwise outcome is committed with its send_sms event.
	requeue bool
	wait    time.Duration
	// undo takes back the attempt: nothing reached the modem and the
	// failure was not the request's.
	undo bool
	// avoid keeps the request off this phone from now on (failover).
	avoid   bool
	outcome sendOutcome
	// counter is the counter the decision adds one to ("" for none).
	counter string
	// keepError records the error as the request's last_error.
	keepError bool
	// why says why, for the log ("" logs nothing).
	why string
}

// decideSend maps the result of SendEach on attempt number attempt (of
// maxAttempts) to a decision. accepted is the number of parts the modem
// accepted, stopped whether the agent is stopping, failover whether another
// phone could take the request. It is pure so that every outcome is
// table-tested.
//
// The rule that matters most: a request the modem may have (an unconfirmed
// part) is never sent again, on this phone or another.
func decideSend(err error, accepted int, stopped bool, attempt, maxAttempts int, text string, failover bool) sendDecision {
	fresh := accepted == 0 && !errors.Is(err, modem.ErrUnconfirmed) // the network has nothing of it
	switch {
	case err == nil:
		return sendDecision{outcome: sendOutcome{State: stateSent, Status: statusUnknown}, counter: "sends_ok"}
	case fresh && stopped:
		// Stopped before the modem had the message: it waits for the next run.
		return sendDecision{requeue: true, undo: true}
	case accepted == 0 && errors.Is(err, errHandOver):
		// The state file refused the hand-over record, so nothing was sent.
		return sendDecision{requeue: true, undo: true, wait: handOverRetry, keepError: true,
			why: "send held back: its hand-over could not be recorded"}
	case fresh && failover && attempt < maxAttempts && modem.SIMRefused(err):
		return sendDecision{requeue: true, avoid: true, keepError: true, counter: "sends_failed_over",
			why: "the phone's SIM cannot send; trying another phone"}
	case fresh && failover && attempt < maxAttempts && modem.PhoneDown(err):
		return sendDecision{requeue: true, keepError: true, counter: "sends_failed_over",
			why: "the phone went down before the modem had the message; trying another phone"}
	case accepted == 0 && modem.Temporary(err) && attempt < maxAttempts:
		return sendDecision{requeue: true, wait: time.Duration(attempt) * 2 * time.Second, keepError: true,
			counter: "sends_retried", why: "transient send error; will retry"}
	case errors.Is(err, modem.ErrUnconfirmed):
		// The modem took the last part it was given without a verdict
		// (the port closed, the phone was stopped, or it stayed silent): it
		// may be on its way, so it is not sent again.
		return sendDecision{outcome: unconfirmedOutcome(text, accepted), keepError: true,
			counter: "sends_unconfirmed", why: "send not confirmed by the modem; not resending it"}
	default:
		return sendDecision{outcome: sendOutcome{State: stateFailed, Status: statusFailed}, keepError: true,
			counter: "sends_failed", why: "send failed"}
	}
}

// sendOne sends one request through p and commits the outcome together with
// its send_sms event. Each part's reference is recorded as soon as the modem
// answers it; the phone's delivery reports wait until the send ends.
func (q *sendQueue) sendOne(ctx context.Context, p sendPhone, r sendRecord) {
	a := q.a
	// Every report kept from here on may be about this send: the mark is
	// taken before the phone's reports start to wait.
	mark, err := a.st.ReportMark()
	if err != nil {
		a.log.Error("reading the report mark", "send", r.ID, "err", err)
	}
	a.beginSend(p.ID())
	r, err = a.st.Begin(ctx, r.ID, p.ID(), mark, q.clock.Now())
	if err != nil {
		a.endSend(context.WithoutCancel(ctx), p.ID(), mark)
		if !errors.Is(err, store.ErrNotQueued) {
			a.log.Error("marking send in progress", "send", r.ID, "err", err)
		}
		return
	}
	defer a.endSend(context.WithoutCancel(ctx), p.ID(), r.ReportMark)

	refs, err := p.SendEach(ctx, r.To, r.Text, r.StatusReport, modem.SendHooks{
		// Recorded before the PDU goes out: a restart can then tell a
		// request the modem never had (sent again) from one it may have
		// sent (never sent again).
		// It also counts the part against the phone's send limits.
		Handing: func(part int) error {
			r.Handed = part + 1
			at := q.clock.Now()
			if err := a.st.SaveHanded(ctx, r, at); err != nil {
				return fmt.Errorf("%w: part %d: %w", errHandOver, part+1, err)
			}
			q.parts.add(p.ID(), at)
			return nil
		},
		Accepted: func(_, ref int) {
			r.Refs = append(r.Refs, ref)
			if err := a.st.SaveSend(ctx, r); err != nil {
				a.log.Error("recording a message reference", "send", r.ID, "ref", ref, "err", err)
			}
		},
	})
	r.Refs = refs
	q.sent(p.ID(), r.Handed > 0)
	if modem.SIMRefused(err) {
		q.refusedBy(p.ID())
	}
	failover := err != nil && q.canFailOver(r, p.ID())
	d := decideSend(err, len(refs), ctx.Err() != nil, r.Attempts, a.cfg.Load().Sending.MaxAttempts, r.Text, failover)
	if d.counter != "" {
		a.counter.add(d.counter, 1)
	}
	if d.keepError {
		r.LastError = err.Error()
	}
	if d.why != "" {
		p.Log().Warn(d.why, "send", r.ID, "attempt", r.Attempts, "accepted_parts", len(refs), "status", d.outcome.Status, "err", err)
	}
	if d.undo {
		r.Attempts--
	}
	if d.avoid {
		r.Avoid = append(r.Avoid, p.ID())
	}
	if d.requeue {
		var notBefore time.Time
		if d.wait > 0 {
			notBefore = q.clock.Now().Add(d.wait)
		}
		q.requeue(ctx, r, notBefore)
		return
	}
	if err := q.commitPersistently(ctx, r, d.outcome); err != nil {
		a.log.Error("send outcome not recorded; the next start commits it", "send", r.ID, "err", err)
	}
}

// requeue puts a request back in the queue, to be tried again from notBefore.
// Nothing reached the modem, so the request must not be settled as sent: the
// write is tried again while the state file refuses it, until a stop. (A
// request a stop leaves in the sending state is reported unknown at the next
// start, never sent twice.)
func (q *sendQueue) requeue(ctx context.Context, r sendRecord, notBefore time.Time) {
	r.State, r.NotBefore = stateQueued, notBefore
	_ = q.persist(ctx, r.ID, "requeueing a send", func() error { return q.a.st.SaveSend(ctx, r) })
}

// canFailOver reports whether request r, which failed on phone, may go to
// another phone: it names none, and another configured phone that is
// enabled may send to its destination and has not refused it.
func (q *sendQueue) canFailOver(r sendRecord, phone int) bool {
	if r.Phone != 0 {
		return false
	}
	disabled := q.a.disabledPhones()
	for _, c := range q.a.cfg.Load().Phones {
		if c.ID != phone && !disabled[c.ID] && allowed(c.Allow, r.To) && !slices.Contains(r.Avoid, c.ID) {
			return true
		}
	}
	return false
}
