package agent_test

import (
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/webhook"
)

// TestSendIsNeverRepeated interrupts a send while the modem holds the
// message but has not yet answered +CMGS with its reference: the agent is
// stopped (with time to hear the answer, or without), the phone's
// configuration changes, or the modem is unplugged. The modem may have sent
// the message, so it must never be handed over a second time, whatever comes
// after: a restart, a new worker, a replug.
func TestSendIsNeverRepeated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		stopTimeout time.Duration // the agent's grace for a stop or a reload
		replyDelay  time.Duration // how long the modem takes to answer
		interrupt   func(t *testing.T, l *lab.Lab)
		wantRef     bool // the answer was heard, so its reference is known
		wantInError string
	}{
		{
			name: "stop waits for the answer", stopTimeout: 5 * time.Second, replyDelay: 1500 * time.Millisecond,
			interrupt: restartAgent, wantRef: true,
		},
		{
			name: "stop cut short", stopTimeout: 300 * time.Millisecond, replyDelay: 2 * time.Second,
			interrupt: restartAgent, wantInError: "not confirmed",
		},
		{
			name: "phone reconfigured", stopTimeout: 5 * time.Second, replyDelay: 1500 * time.Millisecond,
			interrupt: reconfigurePhone, wantRef: true,
		},
		{
			name: "modem unplugged", stopTimeout: 5 * time.Second, replyDelay: 2 * time.Second,
			interrupt: unplugAndReplug, wantInError: "not confirmed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := startLab(t, lab.Options{
				Agent:     agent.Options{StopTimeout: tt.stopTimeout},
				ExtraYAML: "sending: {queue_timeout: 1m, max_attempts: 3}\n",
			})
			ctx := testContext(t, 60*time.Second)
			m := l.Modems[0]
			m.SetReplyDelay(tt.replyDelay)
			st, err := mustAgent(t, l).Submit(ctx, agent.SendRequest{To: "+33612345678", Text: "exactly once"})
			if err != nil {
				t.Fatal(err)
			}
			waitUntil(t, 20*time.Second, "the modem to take the message", func() bool { return len(m.Sent()) > 0 })

			tt.interrupt(t, l)
			m.SetReplyDelay(0)

			if err := l.WaitEvents(ctx, webhook.SendSMS, 1); err != nil {
				t.Fatal(err)
			}
			// Give a wrongly requeued request every chance to go out again:
			// retries wait 2 s per attempt.
			time.Sleep(5 * time.Second)
			if n := len(m.Sent()); n != 1 {
				t.Fatalf("the modem transmitted %d parts, want 1: %+v", n, m.Sent())
			}
			if n := l.Count(webhook.SendSMS); n != 1 {
				t.Errorf("%d send_sms webhooks, want 1", n)
			}
			ev := l.EventsOf(webhook.SendSMS)[0].SendSMS
			if uint64(ev.ID) != st.ID || ev.Status != "unknown" {
				t.Errorf("send_sms = id %d status %q, want id %d status unknown", ev.ID, ev.Status, st.ID)
			}
			got, err := mustAgent(t, l).SendStatusOf(st.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != "sent" || got.Attempts != 1 {
				t.Errorf("request %+v, want state sent after 1 attempt", got)
			}
			if tt.wantRef && (len(got.Refs) != 1 || got.Refs[0] != m.Sent()[0].Ref) {
				t.Errorf("refs %v, want the modem's %d", got.Refs, m.Sent()[0].Ref)
			}
			if tt.wantInError != "" && !strings.Contains(got.LastError, tt.wantInError) {
				t.Errorf("last error %q, want it to say %q", got.LastError, tt.wantInError)
			}
		})
	}
}

// restartAgent stops the agent gracefully and starts it again.
func restartAgent(t *testing.T, l *lab.Lab) {
	t.Helper()
	if err := l.StopAgent(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	l.Modems[0].SetReplyDelay(0)
	if err := l.StartAgent(testContext(t, 30*time.Second)); err != nil {
		t.Fatalf("restart: %v", err)
	}
}

// reconfigurePhone changes phone 1's settings, which restarts its worker.
func reconfigurePhone(t *testing.T, l *lab.Lab) {
	t.Helper()
	text := strings.Replace(l.ConfigYAML(), "    delivery_reports: true\n", "    delivery_reports: true\n    ring_gap: 9s\n", 1)
	if err := l.WriteConfig(text); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(l.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := mustAgent(t, l).Apply(cfg); err != nil {
		t.Fatal(err)
	}
}

// unplugAndReplug pulls the modem out while it holds the message, then
// plugs it back once the phone has noticed.
func unplugAndReplug(t *testing.T, l *lab.Lab) {
	t.Helper()
	m := l.Modems[0]
	if err := m.Unplug(); err != nil {
		t.Fatal(err)
	}
	a := mustAgent(t, l)
	waitUntil(t, 10*time.Second, "the phone to notice", func() bool { return a.Phones()[0].Status != "up" })
	m.SetReplyDelay(0)
	if err := m.Replug(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "the phone to come back", func() bool { return a.Phones()[0].Status == "up" })
}

// TestRestartSettlesInterruptedSends: a crash leaves requests in the middle
// of their hand-over to the modem. At the restart, one the modem never had is
// sent; one whose part the modem had without answering is never sent again
// (unknown, or failed when later parts never went out); one stopped between
// two accepted parts failed.
func TestRestartSettlesInterruptedSends(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("three parts ", 30) // 360 GSM characters
	tests := []struct {
		name         string
		text         string
		handed       int
		refs         []int
		wantStatus   string
		wantSentNow  int // parts the modem transmits after the restart
		wantAttempts int
	}{
		{"never handed over", "not yet sent", 0, nil, "unknown", 1, 1},
		{"handed, no answer", "maybe sent", 1, nil, "unknown", 0, 1},
		{"accepted, commit lost", "surely sent", 1, []int{200}, "unknown", 0, 1},
		{"second of three parts unanswered", long, 2, []int{201}, "failed", 0, 1},
		{"stopped between parts", long, 1, []int{202}, "failed", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startLab(t, lab.Options{})
			ctx := testContext(t, 30*time.Second)
			if err := agent.SeedInterrupted(mustAgent(t, l), 5000, "+33612345678", tt.text, tt.handed, tt.refs); err != nil {
				t.Fatal(err)
			}
			restartAgent(t, l)
			if err := l.WaitEvents(ctx, webhook.SendSMS, 1); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
			ev := l.EventsOf(webhook.SendSMS)[0].SendSMS
			if ev.ID != 5000 || ev.Status != tt.wantStatus || l.Count(webhook.SendSMS) != 1 {
				t.Errorf("send_sms id %d status %q (%d events), want id 5000 status %q once", ev.ID, ev.Status, l.Count(webhook.SendSMS), tt.wantStatus)
			}
			if n := len(l.Modems[0].Sent()); n != tt.wantSentNow {
				t.Errorf("the modem transmitted %d parts after the restart, want %d", n, tt.wantSentNow)
			}
			got, err := mustAgent(t, l).SendStatusOf(5000)
			if err != nil {
				t.Fatal(err)
			}
			if got.Attempts != tt.wantAttempts {
				t.Errorf("attempts %d, want %d", got.Attempts, tt.wantAttempts)
			}
		})
	}
}
