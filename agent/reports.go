package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

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
	var (
		rec    sendRecord
		found  bool
		before string
		after  string
	)
	err := a.out.DB().View(func(tx *bbolt.Tx) error {
		var e refEntry
		ok, err := getJSON(tx, refsBucket, refKey(phone, rep.Ref), &e)
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
		return false, fmt.Errorf("match status report: %w", err)
	}
	if !found {
		return false, nil
	}
	rec.Status = after
	if after == before {
		// Only the part's record changes (or nothing): no event.
		return true, a.out.Update(ctx, func(tx *bbolt.Tx) error {
			return putJSON(tx, sendsBucket, u64key(rec.ID), rec)
		})
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
		Also: func(tx *bbolt.Tx, _ uint64) error {
			return putJSON(tx, sendsBucket, u64key(rec.ID), rec)
		},
	})
	if err != nil {
		return true, fmt.Errorf("commit status change: %w", err)
	}
	a.log.Info("sent SMS status changed", "phone", phone, "send", rec.ID, "status", after)
	return true, nil
}

// reportsBucket keeps delivery reports not matched yet (key: phone id and a
// sequence number, see keptReportKey). The bucket's sequence orders them, so
// that a send replays only the reports that came after it began: one kept
// from before may carry the same message reference, reused since.
var reportsBucket = []byte("agent/kept-reports")

// keptReportTTL is how long a report that never matched is kept.
const keptReportTTL = 48 * time.Hour

// keptReport is a delivery report waiting for the send it is about.
type keptReport struct {
	modem.StatusReport
	Arrived time.Time `json:"arrived"`
}

// keptReportKey is the key of a kept report: the phone id, then the
// sequence number, zero-padded so a phone's reports sort in arrival order.
func keptReportKey(phone int, seq uint64) []byte {
	return fmt.Appendf(nil, "%d/%020d", phone, seq)
}

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
	var seq uint64
	err := a.out.Update(ctx, func(tx *bbolt.Tx) error {
		var err error
		seq, err = appendJSON(tx, reportsBucket, func(seq uint64) []byte { return keptReportKey(phone, seq) },
			keptReport{StatusReport: rep, Arrived: arrived})
		return err
	})
	return seq, err
}

// reportMark returns the sequence number of the last kept report. A send
// stores it when it begins; the reports kept after it may be about it.
func reportMark(tx *bbolt.Tx) uint64 {
	if b := tx.Bucket(reportsBucket); b != nil {
		return b.Sequence()
	}
	return 0
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
	type kept struct {
		key []byte
		rep keptReport
	}
	var due, expired [][]byte
	var replay []kept
	prefix := fmt.Appendf(nil, "%d/", phone)
	now := a.now()
	_ = a.out.DB().View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(reportsBucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var r keptReport
			seq, err := strconv.ParseUint(string(k[len(prefix):]), 10, 64)
			if err != nil || json.Unmarshal(v, &r) != nil {
				expired = append(expired, bytes.Clone(k))
				continue
			}
			switch {
			case seq > mark:
				replay = append(replay, kept{bytes.Clone(k), r})
			case now.Sub(r.Arrived) > keptReportTTL:
				expired = append(expired, bytes.Clone(k))
			}
		}
		return nil
	})
	for _, k := range replay {
		matched, err := a.applyReport(ctx, phone, &k.rep.StatusReport)
		if err != nil {
			a.log.Error("applying a kept delivery report", "phone", phone, "ref", k.rep.Ref, "err", err)
			continue
		}
		if matched {
			due = append(due, k.key)
		}
	}
	if len(expired) > 0 {
		a.counter.add("status_reports_expired", uint64(len(expired)))
		a.log.Warn("dropping delivery reports that matched no sent SMS", "phone", phone, "count", len(expired), "kept_for", keptReportTTL)
	}
	if len(due)+len(expired) == 0 {
		return
	}
	if err := a.out.Update(context.WithoutCancel(ctx), func(tx *bbolt.Tx) error {
		b := tx.Bucket(reportsBucket)
		for _, k := range append(due, expired...) {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
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
