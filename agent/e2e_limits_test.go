package agent_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/webhook"
)

// TestSIMRefusalFailsOverEndToEnd: phone 1's SIM answers every send with
// +CMS ERROR 8 (operator determined barring). Requests submitted over the
// API without a phone are all sent by phone 2, each in exactly one
// send_sms, and phone 1's modem transmits nothing.
func TestSIMRefusalFailsOverEndToEnd(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{Phones: 2})
	l.Modems[0].SetSendRule("", modemsim.SendRule{RefuseCMS: 8})
	c := socketClient(l.SocketPath())
	ctx := testContext(t, 60*time.Second)
	const n = 6
	ids := map[int64]bool{}
	for i := range n {
		code, body := call(t, c, "POST", "/v1/sms", fmt.Sprintf(`{"to": "+3361234567%d", "text": "failover %d"}`, i, i))
		if code != 202 && code != 200 {
			t.Fatalf("POST /v1/sms: %d %s", code, body)
		}
		var st agent.SendStatus
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		ids[int64(st.ID)] = true
	}
	if err := l.WaitEvents(ctx, webhook.SendSMS, n); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // room for a wrong extra event to show
	seen := map[int64]int{}
	for _, ev := range l.EventsOf(webhook.SendSMS) {
		b := ev.SendSMS
		seen[b.ID]++
		if !ids[b.ID] || b.Status != "unknown" || b.Origin != 2 {
			t.Errorf("send_sms %+v, want one of ours, status unknown, from phone 2", b)
		}
	}
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("send %d has %d send_sms events, want 1", id, seen[id])
		}
	}
	if sent := l.Modems[0].SentMessages(); len(sent) != 0 {
		t.Errorf("phone 1's modem transmitted %d messages, want none", len(sent))
	}
	if sent := l.Modems[1].SentMessages(); len(sent) != n {
		t.Errorf("phone 2's modem transmitted %d messages, want %d", len(sent), n)
	}
	if got := mustAgent(t, l).Counter("sends_failed_over"); got < 1 {
		t.Errorf("sends_failed_over = %d, want at least 1", got)
	}
}

// TestLimitsEndToEnd: two phones with limits {hour: 2}. Of five requests,
// four are sent (two per phone) and the fifth waits; the API says it waits
// for a limit and until when, and /metrics shows the windows and the wait.
// Raising the limit by editing the file sends it, without restarting a
// phone.
func TestLimitsEndToEnd(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{Phones: 2, PhoneYAML: "limits: {hour: 2}"})
	watchLab(t, l)
	a := mustAgent(t, l)
	c := socketClient(l.SocketPath())
	ctx := testContext(t, 60*time.Second)
	var last agent.SendStatus
	for i := range 5 {
		code, body := call(t, c, "POST", "/v1/sms", fmt.Sprintf(`{"to": "+3361234567%d", "text": "limited %d"}`, i, i))
		if code != 202 && code != 200 {
			t.Fatalf("POST /v1/sms: %d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &last); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WaitEvents(ctx, webhook.SendSMS, 4); err != nil {
		t.Fatal(err)
	}
	var st agent.SendStatus
	waitUntil(t, 20*time.Second, "the fifth request to say it waits for a limit", func() bool {
		_, body := call(t, c, "GET", fmt.Sprintf("/v1/sms/%d", last.ID), "")
		st = agent.SendStatus{}
		_ = json.Unmarshal([]byte(body), &st)
		return st.Waiting != nil && st.Waiting.For == "limit"
	})
	until, err := time.Parse(time.RFC3339, st.Waiting.Until)
	if err != nil || st.State != "queued" || !strings.Contains(st.Waiting.Detail, "hour limit (2 of 2 parts used)") ||
		until.Before(time.Now().Add(50*time.Minute)) {
		t.Errorf("waiting %+v (state %s), want an hour limit wait of about an hour", st.Waiting, st.State)
	}
	_, metrics := call(t, c, "GET", "/metrics", "")
	for _, want := range []string{
		`simhook_phone_parts_sent{phone="1",window="hour"} 2`,
		`simhook_phone_parts_sent{phone="2",window="hour"} 2`,
		`simhook_phone_limit_parts{phone="1",window="hour"} 2`,
		`simhook_phone_limit_parts{phone="1",window="day"} 0`,
		fmt.Sprintf(`simhook_phone_sends_waiting{phone="%d"} 1`, st.Waiting.Phone),
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	reconnects := map[int]int{}
	for _, p := range a.Phones() {
		reconnects[p.ID] = p.Reconnects
	}
	if err := l.WriteConfig(strings.Replace(l.ConfigYAML(), "limits: {hour: 2}", "limits: {hour: 3}", -1)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the reload", func() bool { return a.Counter("config_reloads") == 1 })
	if err := l.WaitEvents(ctx, webhook.SendSMS, 5); err != nil {
		_, body := call(t, c, "GET", fmt.Sprintf("/v1/sms/%d", last.ID), "")
		t.Fatalf("%v; the fifth request: %s", err, body)
	}
	for _, p := range a.Phones() {
		if p.Reconnects != reconnects[p.ID] || p.Status != "up" {
			t.Errorf("phone %d: %s after %d reconnects (was %d); a limit change must not restart it", p.ID, p.Status, p.Reconnects, reconnects[p.ID])
		}
	}
}

// TestLimitsSurviveARestart: a phone with limits {day: 2} sends two parts,
// the agent restarts, and a third request waits for the day's reset: the
// count came back from the state file.
func TestLimitsSurviveARestart(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{PhoneYAML: "limits: {day: 2}"})
	c := socketClient(l.SocketPath())
	ctx := testContext(t, 60*time.Second)
	for i := range 2 {
		if code, body := call(t, c, "POST", "/v1/sms", fmt.Sprintf(`{"to": "+33612345678", "text": "before the restart %d"}`, i)); code != 202 {
			t.Fatalf("POST /v1/sms: %d %s", code, body)
		}
	}
	if err := l.WaitEvents(ctx, webhook.SendSMS, 2); err != nil {
		t.Fatal(err)
	}
	if err := l.StopAgent(); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgent(ctx); err != nil {
		t.Fatal(err)
	}
	c = socketClient(l.SocketPath())
	code, body := call(t, c, "POST", "/v1/sms", `{"to": "+33612345678", "text": "after the restart"}`)
	if code != 202 {
		t.Fatalf("POST /v1/sms: %d %s", code, body)
	}
	var st agent.SendStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "the request to wait for the day limit", func() bool {
		_, body := call(t, c, "GET", fmt.Sprintf("/v1/sms/%d", st.ID), "")
		st = agent.SendStatus{}
		_ = json.Unmarshal([]byte(body), &st)
		return st.Waiting != nil && st.Waiting.For == "limit" && strings.Contains(st.Waiting.Detail, "day limit (2 of 2 parts used)")
	})
	if n := len(l.Modems[0].SentMessages()); n != 2 {
		t.Errorf("the modem transmitted %d messages, want 2", n)
	}
}
