package agent_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/webhook"
)

// TestDiskGuardEndToEnd fills the state directory's filesystem (as the
// guard sees it) under a running agent: a received SMS stays on the SIM and
// a send request is refused with 507, while an event already queued is
// still delivered; once space is back the SMS is taken off the SIM and
// delivered, and sends are accepted again. Nothing is lost.
func TestDiskGuardEndToEnd(t *testing.T) {
	t.Parallel()
	var free atomic.Uint64
	free.Store(10 << 30)
	l := startLab(t, lab.Options{Agent: agent.Options{
		DiskSpace: func(string) (uint64, uint64, error) { return free.Load(), 32 << 30, nil },
	}})
	ctx := testContext(t, 60*time.Second)
	c := socketClient(l.SocketPath())

	// An SMS received while there is room is committed; its delivery is
	// held back by a receiver that is down, so it is still queued when
	// the disk fills.
	l.ReceiverDown()
	if _, err := l.Modems[0].InjectSMS(modemsim.SMS{From: "+33611111111", Text: "before"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "first SMS taken off the SIM", func() bool { return len(l.Modems[0].Stored("SM")) == 0 })

	free.Store(100 << 20) // under 5 % of 32 GiB
	l.ReceiverUp()
	// The guard reads the filesystem at most every few seconds; it is
	// also read at each health probe (every 500 ms here), so wait until a
	// send request is refused.
	var code int
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		code, body = call(t, c, "POST", "/v1/sms", `{"to":"+33612345678","text":"refused"}`)
		if code == http.StatusInsufficientStorage {
			break
		}
		if code != http.StatusAccepted {
			t.Fatalf("send: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code != http.StatusInsufficientStorage {
		t.Fatalf("send while the disk is low: %d %s, want 507", code, body)
	}
	if _, err := l.Modems[0].InjectSMS(modemsim.SMS{From: "+33622222222", Text: "held"}); err != nil {
		t.Fatal(err)
	}
	// Delivery goes on: the SMS from before reaches the receiver.
	if err := l.WaitEvents(ctx, webhook.ReceiveSMS, 1); err != nil {
		t.Fatal(err)
	}
	// The new one stays on the SIM while the disk is low.
	time.Sleep(2 * time.Second)
	if n := len(l.Modems[0].Stored("SM")); n != 1 {
		t.Fatalf("%d SMS on the SIM while the disk is low, want 1 (held there)", n)
	}
	if n := l.Count(webhook.ReceiveSMS); n != 1 {
		t.Fatalf("%d receive_sms delivered while the disk is low, want 1", n)
	}
	_, metrics := call(t, c, "GET", "/metrics", "")
	if !strings.Contains(metrics, "\nsimhook_disk_low 1\n") {
		t.Errorf("metrics do not show the disk low")
	}

	free.Store(10 << 30)
	if err := l.WaitEvents(ctx, webhook.ReceiveSMS, 2); err != nil {
		t.Fatalf("held SMS not delivered after space came back: %v", err)
	}
	waitUntil(t, 30*time.Second, "the held SMS to be deleted from the SIM", func() bool { return len(l.Modems[0].Stored("SM")) == 0 })
	if code, body := call(t, c, "POST", "/v1/sms", `{"to":"+33612345678","text":"accepted"}`); code != http.StatusAccepted {
		t.Errorf("send after space came back: %d %s", code, body)
	}
	texts := map[string]bool{}
	for _, ev := range l.EventsOf(webhook.ReceiveSMS) {
		texts[ev.ReceiveSMS.Text] = true
	}
	if !texts["before"] || !texts["held"] {
		t.Errorf("received texts %v, want before and held", texts)
	}
}
