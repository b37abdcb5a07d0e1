package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/simhook/simhook/modem"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/store"
	"github.com/simhook/simhook/webhook"
)

// HandleStatusReport matches a delivery report to the part of a sent SMS it
// is about, by (phone, message reference, recipient), updates that part and,
// when the SMS's overall status moves forward, commits a
// send_sms_status_change event in the same transaction. A report that
// changes nothing (a temporary failure, a repeat after a crash, a status
// already final) commits nothing and is simply confirmed. A report that
// matches nothing yet, or that arrives while a send is in progress on the
// phone, is kept and matched when that send ends.
func (w *worker) HandleStatusReport(ctx context.Context, rep *modem.StatusReport) error {
	a := w.a
	a.reportMu.Lock()
	defer a.reportMu.Unlock()
	a.counter.add("status_reports", 1)
	if a.sendsOpen[w.id] > 0 {
		// It may be about a part whose reference is not recorded yet, and
		// an older send that had the same reference would take it.
		return a.keepReport(ctx, w.id, rep, "a send is in progress on the phone")
	}
	matched, err := a.applyReport(ctx, w.id, rep)
	if err != nil || matched {
		return err
	}
	// The report may have overtaken the commit of its send (a fast
	// network answers before the last part is accepted).
	a.counter.add("status_reports_unmatched", 1)
	return a.keepReport(ctx, w.id, rep, "it matches no sent SMS yet")
}

// applyReport applies a report received on phone to the sent SMS it
// matches, and reports whether it matched one. a.reportMu is held.
func (a *Agent) applyReport(ctx context.Context, phone int, rep *modem.StatusReport) (bool, error) {
	rec, e, found, err := a.st.MatchRef(phone, rep.Ref)
	if err != nil {
		return false, fmt.Errorf("match status report: %w", err)
	}
	if !found || !sameRecipient(e.Recipient, rep.Recipient) || e.Part >= len(rec.Parts) {
		return false, nil
	}
	before := rec.Status
	rec.Parts[e.Part] = mergePartStatus(rec.Parts[e.Part], rep.Class)
	after := overallStatus(rec.Status, rec.Parts)
	rec.Status = after
	if after == before {
		// Only the part's record changes (or nothing): no event.
		return true, a.st.SaveSend(ctx, rec)
	}
	loc := a.loc.Load()
	_, err = a.out.Enqueue(ctx, outbox.Event{
		Type:      webhook.SendSMSStatusChange,
		Phone:     phone,
		DedupeKey: fmt.Sprintf("status/%d/%s", rec.ID, after),
		Time:      a.now(),
		Body: func(uint64) ([]byte, error) {
			body := webhook.StatusChangeBody{ID: int64(rec.ID), Status: after, IDPhone: phone}
			if !rep.Discharge.IsZero() {
				body.At = webhook.FormatDate(rep.Discharge, loc)
			}
			return json.Marshal(body)
		},
		Also: a.st.SaveSendHook(rec),
	})
	if err != nil {
		return true, fmt.Errorf("commit status change: %w", err)
	}
	a.log.Info("sent SMS status changed", "phone", phone, "send", rec.ID, "status", after)
	return true, nil
}

// keptReportTTL is how long a report that never matched is kept.
const keptReportTTL = store.DefaultReportAge

// keepReport stores a report to be matched when the send in progress on
// its phone ends. a.reportMu is held.
func (a *Agent) keepReport(ctx context.Context, phone int, rep *modem.StatusReport, why string) error {
	a.log.Info("delivery report kept for later", "phone", phone, "ref", rep.Ref, "recipient", rep.Recipient, "st", rep.ST, "why", why)
	_, err := a.storeReport(ctx, phone, *rep, a.now())
	return err
}

// storeReport adds a kept report that arrived at arrived, under the next
// sequence number, which it returns.
func (a *Agent) storeReport(ctx context.Context, phone int, rep modem.StatusReport, arrived time.Time) (uint64, error) {
	return a.st.KeepReport(ctx, phone, rep, arrived)
}

// beginSend makes the phone's delivery reports wait until endSend.
func (a *Agent) beginSend(phone int) {
	a.reportMu.Lock()
	a.sendsOpen[phone]++
	a.reportMu.Unlock()
}

// endSend lets the phone's reports through again and applies those kept
// since mark, now that the send's references are recorded.
func (a *Agent) endSend(ctx context.Context, phone int, mark uint64) {
	a.reportMu.Lock()
	defer a.reportMu.Unlock()
	if a.sendsOpen[phone]--; a.sendsOpen[phone] <= 0 {
		delete(a.sendsOpen, phone)
	}
	a.replayReportsLocked(ctx, phone, mark)
}

// replayReports is replayReportsLocked for a caller not holding a.reportMu.
func (a *Agent) replayReports(ctx context.Context, phone int, mark uint64) {
	a.reportMu.Lock()
	defer a.reportMu.Unlock()
	a.replayReportsLocked(ctx, phone, mark)
}

// replayReportsLocked applies the phone's kept reports with a sequence
// number above mark, deleting each one that matched, and drops reports that
// never matched within keptReportTTL. a.reportMu is held.
func (a *Agent) replayReportsLocked(ctx context.Context, phone int, mark uint64) {
	kept, expired, err := a.st.KeptReports(phone)
	if err != nil {
		a.log.Error("reading kept delivery reports", "phone", phone, "err", err)
		return
	}
	now := a.now()
	var due []uint64
	for _, k := range kept {
		switch {
		case k.Seq > mark:
			matched, err := a.applyReport(ctx, phone, &k.StatusReport)
			if err != nil {
				a.log.Error("applying a kept delivery report", "phone", phone, "ref", k.Ref, "err", err)
				continue
			}
			if matched {
				due = append(due, k.Seq)
			}
		case now.Sub(k.Arrived) > keptReportTTL:
			expired = append(expired, k.Seq)
		}
	}
	if len(expired) > 0 {
		a.counter.add("status_reports_expired", uint64(len(expired)))
		a.log.Warn("dropping delivery reports that matched no sent SMS", "phone", phone, "count", len(expired), "kept_for", keptReportTTL)
	}
	if len(due)+len(expired) == 0 {
		return
	}
	if err := a.st.DropReports(ctx, phone, append(due, expired...)); err != nil {
		// Left in place, they are never replayed (later sends begin
		// above their numbers) and expire with the rest.
		a.log.Error("deleting kept delivery reports", "phone", phone, "err", err)
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
// the digits must agree on the shorter one's length (at least 8 digits), of
// which at least minSignificant once the leading zeros are dropped: a
// number of zeros, or zeros and a few digits, names no one in particular.
// Names without digits must be equal but for case.
func sameRecipient(sent, reported string) bool {
	a, b := digits(sent), digits(reported)
	if a == b && a != "" {
		return true
	}
	if len(a) < 8 || len(b) < 8 {
		return strings.EqualFold(sent, reported)
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	// National numbers may carry a trunk prefix 0 the international form drops.
	sig := strings.TrimLeft(a, "0")
	return len(sig) >= minSignificant && strings.HasSuffix(b, sig)
}

// minSignificant is the fewest digits, leading zeros dropped, by which a
// number in one form is recognised in another: national numbers with a
// trunk prefix have at least 7.
const minSignificant = 7

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
