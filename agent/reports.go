package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/simhook/simhook/modem"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/webhook"
	"go.etcd.io/bbolt"
)

// HandleStatusReport matches a delivery report to the part of a sent SMS it
// is about, by (phone, message reference, recipient), updates that part and,
// when the SMS's overall status moves forward, commits a
// send_sms_status_change event in the same transaction. A report that
// changes nothing (a temporary failure, a repeat after a crash, a status
// already final) commits nothing and is simply confirmed.
func (w *worker) HandleStatusReport(ctx context.Context, rep *modem.StatusReport) error {
	w.a.reportMu.Lock() // the driver and the sender's replay may both get here
	defer w.a.reportMu.Unlock()
	return w.handleStatusReport(ctx, rep)
}

// handleStatusReport does HandleStatusReport's work; a.reportMu is held.
func (w *worker) handleStatusReport(ctx context.Context, rep *modem.StatusReport) error {
	a := w.a
	a.counter.add("status_reports", 1)
	var (
		rec    sendRecord
		found  bool
		before string
		after  string
	)
	err := a.out.DB().View(func(tx *bbolt.Tx) error {
		var e refEntry
		ok, err := getJSON(tx, refsBucket, refKey(w.id, rep.Ref), &e)
		if err != nil || !ok || !sameRecipient(e.Recipient, rep.Recipient) {
			return err
		}
		ok, err = getJSON(tx, sendsBucket, u64key(e.ID), &rec)
		if err != nil || !ok || e.Part >= len(rec.Parts) {
			return err
		}
		found = true
		before = rec.Status
		rec.Parts[e.Part] = mergePartStatus(rec.Parts[e.Part], rep.Class)
		after = overallStatus(rec.Status, rec.Parts)
		return nil
	})
	if err != nil {
		return fmt.Errorf("match status report: %w", err)
	}
	if !found {
		// The report may have overtaken the commit of its send (a fast
		// network answers before the last part is accepted): keep it, and
		// the send's commit replays it.
		a.counter.add("status_reports_unmatched", 1)
		w.log.Info("status report matches no sent SMS yet; kept", "ref", rep.Ref, "recipient", rep.Recipient, "st", rep.ST)
		return a.out.Update(ctx, func(tx *bbolt.Tx) error {
			return putJSON(tx, orphanReportsBucket, refKey(w.id, rep.Ref), rep)
		})
	}
	rec.Status = after
	if after == before {
		// Only the part's record changes (or nothing): no event.
		return a.out.Update(ctx, func(tx *bbolt.Tx) error {
			return putJSON(tx, sendsBucket, u64key(rec.ID), rec)
		})
	}
	loc := a.loc.Load()
	_, err = a.out.Enqueue(ctx, outbox.Event{
		Type:      webhook.SendSMSStatusChange,
		Phone:     w.id,
		DedupeKey: fmt.Sprintf("status/%d/%s", rec.ID, after),
		Time:      a.now(),
		Body: func(uint64) ([]byte, error) {
			body := webhook.StatusChangeBody{ID: int64(rec.ID), Status: after, IDPhone: w.id}
			if !rep.Discharge.IsZero() {
				body.At = webhook.FormatDate(rep.Discharge, loc)
			}
			return json.Marshal(body)
		},
		Also: func(tx *bbolt.Tx, _ uint64) error {
			return putJSON(tx, sendsBucket, u64key(rec.ID), rec)
		},
	})
	if err != nil {
		return fmt.Errorf("commit status change: %w", err)
	}
	w.log.Info("sent SMS status changed", "send", rec.ID, "status", after)
	return nil
}

// orphanReportsBucket keeps delivery reports that arrived before the send
// they are about was committed (key: "phone/ref").
var orphanReportsBucket = []byte("agent/orphan-reports")

// replayOrphanReports applies reports kept for refs that a send has just
// committed.
func (w *worker) replayOrphanReports(ctx context.Context, refs []int) {
	w.a.reportMu.Lock()
	defer w.a.reportMu.Unlock()
	for _, ref := range refs {
		var rep modem.StatusReport
		var ok bool
		err := w.a.out.Update(ctx, func(tx *bbolt.Tx) error {
			var err error
			ok, err = getJSON(tx, orphanReportsBucket, refKey(w.id, ref), &rep)
			if err != nil || !ok {
				return err
			}
			return tx.Bucket(orphanReportsBucket).Delete(refKey(w.id, ref))
		})
		if err != nil || !ok {
			continue
		}
		if err := w.handleStatusReport(ctx, &rep); err != nil {
			w.log.Error("replaying an early status report", "ref", ref, "err", err)
		}
	}
}

// mergePartStatus applies a report to one part's status. Final statuses
// never change; a temporary failure (the network still tries) changes nothing.
func mergePartStatus(cur string, class modem.ReportClass) string {
	if cur == statusDelivered || cur == statusFailed {
		return cur
	}
	switch class {
	case modem.Delivered:
		return statusDelivered
	case modem.Failed:
		return statusFailed
	}
	return cur
}

// overallStatus is a sent SMS's status from its parts: failed as soon as one
// part failed, delivered when every part is, otherwise unchanged. A final
// status never moves.
func overallStatus(cur string, parts []string) string {
	if cur == statusDelivered || cur == statusFailed || len(parts) == 0 {
		return cur
	}
	delivered := 0
	for _, p := range parts {
		switch p {
		case statusFailed:
			return statusFailed
		case statusDelivered:
			delivered++
		}
	}
	if delivered == len(parts) {
		return statusDelivered
	}
	return cur
}

// sameRecipient compares the recipient a report names with the one the SMS
// was sent to. Networks write numbers in national or international form, so
// the digits must agree on the shorter one's length (at least 8 digits).
func sameRecipient(sent, reported string) bool {
	a, b := digits(sent), digits(reported)
	if a == b {
		return true
	}
	if len(a) < 8 || len(b) < 8 {
		return strings.EqualFold(sent, reported)
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	// National numbers may carry a trunk prefix 0 the international form drops.
	return strings.HasSuffix(b, strings.TrimLeft(a, "0"))
}

// digits keeps only the decimal digits of s.
func digits(s string) string {
	var sb strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
