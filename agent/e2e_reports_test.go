package agent_test

import (
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/webhook"
)

// reportTo is the recipient of the report-matching tests.
const reportTo = "+33612345678"

// statusChanges returns the send_sms_status_change bodies by send id.
func statusChanges(l *lab.Lab) map[int64][]string {
	out := make(map[int64][]string)
	for _, ev := range l.EventsOf(webhook.SendSMSStatusChange) {
		out[ev.StatusChange.ID] = append(out[ev.StatusChange.ID], ev.StatusChange.Status)
	}
	return out
}

// TestReportDuringALongSend: message references are 8 bits and wrap, so an
// earlier send to the same number may hold the reference a new part gets.
// The report of part 1 of a long message arrives (as +CDS) while part 2 is
// still being sent; it must update the new message, not the earlier one.
func TestReportDuringALongSend(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{PhoneYAML: `init: ["AT+CNMI=2,1,0,1,0"]`})
	a := mustAgent(t, l)
	ctx := testContext(t, 60*time.Second)
	// The simulator's first reference is 0: an old send already had it.
	if err := agent.SeedSend(a, 1000, 1, reportTo, "sent", "unknown", []int{0}, 0); err != nil {
		t.Fatal(err)
	}
	l.Modems[0].SetReplyDelay(300 * time.Millisecond)
	yes := true
	st, err := a.Submit(ctx, agent.SendRequest{To: reportTo, Text: strings.Repeat("long message ", 30), StatusReport: &yes})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitEvents(ctx, webhook.SendSMSStatusChange, 1); err != nil {
		t.Fatalf("%v; status changes %v", err, statusChanges(l))
	}
	time.Sleep(time.Second)
	changes := statusChanges(l)
	if got := changes[int64(st.ID)]; len(got) != 1 || got[0] != "delivered" {
		t.Errorf("the new send's status changes: %v, want [delivered]", got)
	}
	if got := changes[1000]; len(got) != 0 {
		t.Errorf("the earlier send with the same reference changed: %v", got)
	}
	if n := len(l.Modems[0].Sent()); n != 3 {
		t.Errorf("%d parts sent, want 3", n)
	}
}

// TestOldKeptReportsAreNotApplied: a report that matched nothing is kept
// for a while, in case its send is not committed yet. One kept before a send
// began is not about it, even when it carries the reference the send gets,
// and one that matched nothing for days is dropped.
func TestOldKeptReportsAreNotApplied(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{})
	a := mustAgent(t, l)
	ctx := testContext(t, 60*time.Second)
	failed := modem.StatusReport{Phone: 1, Ref: 0, Recipient: reportTo, ST: 0x41, Class: modem.Failed, Index: -1}
	if _, err := agent.SeedKeptReport(a, failed, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	ancient := failed
	ancient.Ref = 99
	if _, err := agent.SeedKeptReport(a, ancient, time.Now().Add(-72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	yes := true
	st, err := a.Submit(ctx, agent.SendRequest{To: reportTo, Text: "fresh", StatusReport: &yes})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitEvents(ctx, webhook.SendSMSStatusChange, 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if got := statusChanges(l)[int64(st.ID)]; len(got) != 1 || got[0] != "delivered" {
		t.Errorf("status changes %v, want [delivered] (the simulator delivered it)", got)
	}
	if n := a.Counter("status_reports_expired"); n != 1 {
		t.Errorf("status_reports_expired = %d, want 1", n)
	}
}

// TestRestartAppliesKeptReports: the agent stopped while a send was in
// progress, after a part's reference was recorded and its report kept. The
// restart settles the send as unknown and then applies the report.
func TestRestartAppliesKeptReports(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{})
	a := mustAgent(t, l)
	ctx := testContext(t, 60*time.Second)
	l.Modems[0].SetSendRule("", modemsim.SendRule{Outcome: modemsim.NoReport})
	if err := agent.SeedSend(a, 2000, 1, reportTo, "sending", "", []int{7}, 0); err != nil {
		t.Fatal(err)
	}
	delivered := modem.StatusReport{Phone: 1, Ref: 7, Recipient: reportTo, ST: 0, Class: modem.Delivered, Index: -1}
	if _, err := agent.SeedKeptReport(a, delivered, time.Now()); err != nil {
		t.Fatal(err)
	}
	restartAgent(t, l)
	if err := l.WaitEvents(ctx, webhook.SendSMSStatusChange, 1); err != nil {
		t.Fatal(err)
	}
	var sent []*webhook.SendSMSBody
	for _, ev := range l.EventsOf(webhook.SendSMS) {
		sent = append(sent, ev.SendSMS)
	}
	if len(sent) != 1 || sent[0].ID != 2000 || sent[0].Status != "unknown" {
		t.Errorf("send_sms %+v, want send 2000 settled as unknown", sent)
	}
	if got := statusChanges(l)[2000]; len(got) != 1 || got[0] != "delivered" {
		t.Errorf("status changes of send 2000: %v, want [delivered]", got)
	}
}
