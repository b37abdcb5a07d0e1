package agent

import (
	"context"
	"fmt"
)

// recovery is what recover decides for a request a crash left sending.
type recovery struct {
	outcome sendOutcome // zero: back in the queue
	requeue bool
	why     string // for the log
	err     string // its last_error ("" keeps the one it has)
}

// recoverOutcome decides what becomes of a request a crash left in the
// sending state. One whose part was handed to the modem without a verdict
// may have been sent, so it is never sent again: it is reported with status
// "unknown", as RaspiSMS reports a send it cannot confirm (or "failed" when
// later parts never went out). One the modem never had goes back in the
// queue. An outcome decided before the crash is committed as decided. It is
// pure, so that each case is table-tested.
func recoverOutcome(r sendRecord) recovery {
	switch {
	case r.Outcome != nil:
		return recovery{outcome: *r.Outcome, why: "committing a send outcome decided before the restart"}
	case r.Handed > len(r.Refs):
		return recovery{outcome: unconfirmedOutcome(r.Text, len(r.Refs)),
			why: "send interrupted by a restart while the modem had it; not resending it",
			err: "interrupted by a restart while the modem was sending; not resent"}
	case r.Handed == 0:
		// The modem never had any part: the request goes back in the
		// queue, and this attempt does not count.
		return recovery{requeue: true, why: "send interrupted by a restart before the modem had it; sending it again"}
	case allParts(r.Text, len(r.Refs)):
		// Every part was accepted; only the commit was interrupted.
		return recovery{outcome: sendOutcome{State: stateSent, Status: statusUnknown},
			why: "send accepted by the modem before a restart; committing it"}
	default:
		// Every part handed over was accepted, but the rest never went
		// out: the message cannot arrive whole.
		return recovery{outcome: sendOutcome{State: stateFailed, Status: statusFailed},
			why: "send interrupted by a restart between parts; reporting it failed",
			err: "interrupted by a restart between two parts; the rest was not sent"}
	}
}

// recover settles the requests a crash left in the "sending" state (see
// recoverOutcome), and applies the delivery reports kept while they were in
// progress.
func (q *sendQueue) recover(ctx context.Context) error {
	a := q.a
	stuck, err := a.st.Open()
	if err != nil {
		return fmt.Errorf("scan send queue: %w", err)
	}
	for _, r := range stuck {
		d := recoverOutcome(r)
		a.log.Warn(d.why, "send", r.ID, "phone", r.UsedPhone, "status", d.outcome.Status, "accepted_parts", len(r.Refs))
		if d.err != "" {
			r.LastError = d.err
		}
		if d.requeue {
			r.State, r.Attempts, r.Refs = stateQueued, max(r.Attempts-1, 0), nil
			if err := a.st.SaveSend(ctx, r); err != nil {
				return fmt.Errorf("requeue send %d: %w", r.ID, err)
			}
		} else if err := a.commitSend(ctx, r, d.outcome.State, d.outcome.Status, r.Refs); err != nil {
			return err
		}
		// Reports kept during the attempt are about it or about older sends.
		a.replayReports(ctx, r.UsedPhone, r.ReportMark)
	}
	return nil
}
