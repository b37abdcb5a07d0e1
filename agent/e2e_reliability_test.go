package agent_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/webhook"
)

// TestReliabilityAlertEndToEnd sends through a phone whose messages mostly
// fail, runs the check, and expects one phone_reliability event with
// RaspiSMS's string fields, the phone disabled for sending, and no second
// alert without fresh volume.
func TestReliabilityAlertEndToEnd(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{ExtraYAML: `reliability:
  check_interval: 1h
  failed: {enabled: true, rate: 0.5, min_volume: 4, period: 120m, grace: 0s, auto_disable: true}
`})
	m := l.Modems[0]
	m.SetSendRule("+33600000666", modemsim.SendRule{Outcome: modemsim.Failed})
	a := mustAgent(t, l)
	ctx := testContext(t, 60*time.Second)

	if _, err := a.Submit(ctx, agent.SendRequest{To: "+33600000001", Text: "fine"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := a.Submit(ctx, agent.SendRequest{To: "+33600000666", Text: fmt.Sprintf("doomed %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WaitEvents(ctx, webhook.SendSMSStatusChange, 4); err != nil {
		t.Fatal(err)
	}
	if err := a.CheckReliability(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitEvents(ctx, webhook.PhoneReliability, 1); err != nil {
		t.Fatal(err)
	}
	got := l.EventsOf(webhook.PhoneReliability)[0].PhoneReliability
	want := webhook.PhoneReliabilityBody{ReliabilityType: "failed", IDPhone: 1, Period: 120, Total: 4, Unreliable: "3", Rate: "0.7500"}
	if *got != want {
		t.Errorf("phone_reliability = %+v, want %+v", *got, want)
	}
	for _, p := range a.Phones() {
		if p.ID == 1 && p.SendEnabled {
			t.Error("auto_disable: the phone still takes sends")
		}
	}
	// The same samples must not raise a second alert.
	if err := a.CheckReliability(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := l.Count(webhook.PhoneReliability); n != 1 {
		t.Errorf("%d alerts, want 1: each alert needs fresh volume", n)
	}
}
