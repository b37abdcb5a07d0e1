package agent_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/webhook"
)

// TestSendWithReportsEndToEnd sends through the agent to recipients whose
// reports say delivered, failed, nothing, and temporary-then-delivered, and
// checks the modem got the exact texts, the send_sms events, and that
// status changes are emitted only on a change and only forward.
func TestSendWithReportsEndToEnd(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{})
	m := l.Modems[0]
	m.SetSendRule("+33600000002", modemsim.SendRule{Outcome: modemsim.Failed})
	m.SetSendRule("+33600000003", modemsim.SendRule{Outcome: modemsim.NoReport})
	m.SetSendRule("+33600000004", modemsim.SendRule{Outcome: modemsim.TemporaryThenDelivered, ReportDelay: 200 * time.Millisecond})
	a := mustAgent(t, l)
	ctx := testContext(t, 60*time.Second)

	long := strings.Repeat("Multipart text with €uro signs and more. ", 8) // 3 parts in GSM 7-bit
	cases := []struct {
		to, text, tag string
		final         string // "" = no status change expected
	}{
		{"+33600000001", "delivered one", "a", "delivered"},
		{"+33600000002", "failed one", "b", "failed"},
		{"+33600000003", "no report", "", ""},
		{"+33600000004", "temporary then delivered", "c", "delivered"},
		{"+33600000001", long, "long", "delivered"},
	}
	ids := make(map[uint64]int)
	for i, c := range cases {
		st, err := a.Submit(ctx, agent.SendRequest{To: c.to, Text: c.text, Tag: c.tag})
		if err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
		ids[st.ID] = i
	}
	if err := l.WaitEvents(ctx, webhook.SendSMS, len(cases)); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitEvents(ctx, webhook.SendSMSStatusChange, 4); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // room for a wrong extra change to show

	for _, ev := range l.EventsOf(webhook.SendSMS) {
		b := ev.SendSMS
		i, ok := ids[uint64(b.ID)]
		if !ok {
			t.Fatalf("send_sms id %d was never returned by Submit", b.ID)
		}
		c := cases[i]
		if b.Status != "unknown" || b.Text != c.text || b.Destination != c.to || b.Origin != 1 || b.Tag != c.tag {
			t.Errorf("send_sms %d = %+v, want status unknown, %q to %s tag %q", b.ID, b, c.text, c.to, c.tag)
		}
	}
	changes := make(map[uint64][]string)
	for _, ev := range l.EventsOf(webhook.SendSMSStatusChange) {
		changes[uint64(ev.StatusChange.ID)] = append(changes[uint64(ev.StatusChange.ID)], ev.StatusChange.Status)
	}
	for id, i := range ids {
		c := cases[i]
		got := changes[id]
		switch {
		case c.final == "" && len(got) != 0:
			t.Errorf("%s: status changes %v, want none", c.to, got)
		case c.final != "" && (len(got) != 1 || got[0] != c.final):
			t.Errorf("%s %q: status changes %v, want exactly [%s]", c.to, c.tag, got, c.final)
		}
		st, err := a.SendStatusOf(id)
		if err != nil {
			t.Fatal(err)
		}
		want := c.final
		if want == "" {
			want = "unknown"
		}
		if st.Status != want {
			t.Errorf("send %d: API status %q, want %q", id, st.Status, want)
		}
	}
	var texts []string
	for _, sm := range m.SentMessages() {
		texts = append(texts, sm.To+": "+sm.Text)
	}
	for _, c := range cases {
		found := false
		for _, s := range texts {
			if s == c.to+": "+c.text {
				found = true
			}
		}
		if !found {
			t.Errorf("the modem never got %q for %s; it got %q", c.text, c.to, texts)
		}
	}
}

// TestSendRefusals covers what Submit refuses before queueing anything.
func TestSendRefusals(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{})
	a := mustAgent(t, l)
	ctx := testContext(t, 10*time.Second)
	tooLong := strings.Repeat("x", 153*256)
	tests := []struct {
		name string
		req  agent.SendRequest
	}{
		{"empty text", agent.SendRequest{To: "+33612345678"}},
		{"bad number", agent.SendRequest{To: "call me", Text: "hi"}},
		{"no number", agent.SendRequest{Text: "hi"}},
		{"too long", agent.SendRequest{To: "+33612345678", Text: tooLong}},
		{"unknown phone", agent.SendRequest{To: "+33612345678", Text: "hi", Phone: 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Submit(ctx, tt.req)
			if !errors.Is(err, agent.ErrInvalidRequest) {
				t.Fatalf("Submit = %v, want ErrInvalidRequest", err)
			}
		})
	}
}

// TestSendRefusedByNetworkIsFailed checks that a +CMS ERROR that is not
// transient makes the send_sms event "failed".
func TestSendRefusedByNetworkIsFailed(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{})
	l.Modems[0].SetSendRule("+33600000009", modemsim.SendRule{RefuseCMS: 21}) // short message transfer rejected
	a := mustAgent(t, l)
	ctx := testContext(t, 30*time.Second)
	st, err := a.Submit(ctx, agent.SendRequest{To: "+33600000009", Text: "refused"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitEvents(ctx, webhook.SendSMS, 1); err != nil {
		t.Fatal(err)
	}
	ev := l.EventsOf(webhook.SendSMS)[0].SendSMS
	if uint64(ev.ID) != st.ID || ev.Status != "failed" {
		t.Fatalf("send_sms = %+v, want id %d status failed", ev, st.ID)
	}
}

// TestSendTransientErrorsAreRetried: a +CMS ERROR that is temporary (42,
// congestion) is retried up to sending.max_attempts, then the send fails.
func TestSendTransientErrorsAreRetried(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{ExtraYAML: "sending: {queue_timeout: 1m, max_attempts: 2}\n"})
	l.Modems[0].SetSendRule("+33600000042", modemsim.SendRule{RefuseCMS: 42})
	a := mustAgent(t, l)
	ctx := testContext(t, 30*time.Second)
	st, err := a.Submit(ctx, agent.SendRequest{To: "+33600000042", Text: "busy network"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitEvents(ctx, webhook.SendSMS, 1); err != nil {
		t.Fatal(err)
	}
	if ev := l.EventsOf(webhook.SendSMS)[0].SendSMS; ev.Status != "failed" || uint64(ev.ID) != st.ID {
		t.Fatalf("send_sms %+v", ev)
	}
	tries := 0
	for _, c := range l.Modems[0].Commands() {
		if strings.HasPrefix(c, "+CMGS=") {
			tries++
		}
	}
	if tries != 2 {
		t.Errorf("the modem was asked %d times, want 2 (sending.max_attempts)", tries)
	}
}

// TestSendFailsWhenNoPhoneCanTakeIt: with every phone disabled, a request
// fails once sending.queue_timeout has passed.
func TestSendFailsWhenNoPhoneCanTakeIt(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{ExtraYAML: "sending: {queue_timeout: 1s, max_attempts: 3}\n"})
	a := mustAgent(t, l)
	ctx := testContext(t, 30*time.Second)
	if err := a.SetPhoneEnabled(ctx, 1, false); err != nil {
		t.Fatal(err)
	}
	st, err := a.Submit(ctx, agent.SendRequest{To: "+33612345678", Text: "nobody can send me"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitEvents(ctx, webhook.SendSMS, 1); err != nil {
		t.Fatal(err)
	}
	got, err := a.SendStatusOf(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "failed" || l.EventsOf(webhook.SendSMS)[0].SendSMS.Status != "failed" {
		t.Errorf("status %+v", got)
	}
	if n := len(l.Modems[0].Sent()); n != 0 {
		t.Errorf("a disabled phone sent %d parts", n)
	}
}

// TestFailedSendNamesAPhone: a send that fails before any phone took it (it
// timed out in the queue, every phone disabled) still names a phone id as its
// send_sms origin, as SPEC §1 requires: the phone the request asked for,
// otherwise the lowest id configured when it failed. The outbox event
// carries the same phone, so an endpoint's phones filter applies to it.
func TestFailedSendNamesAPhone(t *testing.T) {
	t.Parallel()
	only2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer only2.Close()
	l := startLab(t, lab.Options{
		Phones:    2,
		ExtraYAML: "sending: {queue_timeout: 1s, max_attempts: 3}\n",
		Endpoints: []lab.Endpoint{{Name: "only2", URL: only2.URL, Secret: "only2-secret", Events: []string{"send_sms"}, Phones: []int{2}}},
	})
	watchLab(t, l)
	a := mustAgent(t, l)
	ctx := testContext(t, 60*time.Second)
	for _, id := range []int{1, 2} {
		if err := a.SetPhoneEnabled(ctx, id, false); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		phone  int  // requested phone; 0 = any
		reload bool // first drop phone 1 from the configuration
		want   int
	}{
		{"phone 2 requested", 2, false, 2},
		{"phone 1 requested", 1, false, 1},
		{"any phone: the lowest id", 0, false, 1},
		{"any phone after phone 1 left the configuration", 0, true, 2},
	}
	wantOrigin := make(map[int64]int)
	for i, tt := range tests {
		if tt.reload {
			if err := l.WriteConfig(removePhone(l.ConfigYAML(), 1)); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, 10*time.Second, "phone 1 to leave", func() bool { return len(a.Phones()) == 1 })
		}
		st, err := a.Submit(ctx, agent.SendRequest{To: "+33612345678", Text: tt.name, Phone: tt.phone})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		wantOrigin[int64(st.ID)] = tt.want
		if err := l.WaitEvents(ctx, webhook.SendSMS, i+1); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
	}
	for _, ev := range l.EventsOf(webhook.SendSMS) {
		b := ev.SendSMS
		if b.Status != "failed" || b.Origin != wantOrigin[b.ID] {
			t.Errorf("send_sms %q: status %q origin %d, want failed from phone %d", b.Text, b.Status, b.Origin, wantOrigin[b.ID])
		}
	}
	// The deliveries are committed with their events, so they are all there.
	// List's callback runs inside a read transaction and must not open
	// another (Show does): collect first, then look each one up.
	var seqs []uint64
	err := a.Outbox().List(outbox.ListFilter{Endpoint: "only2", Type: webhook.SendSMS}, func(d outbox.DeliveryInfo) error {
		seqs = append(seqs, d.Seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var to2 []string
	for _, seq := range seqs {
		ev, err := a.Outbox().Show(seq)
		if err != nil {
			t.Fatal(err)
		}
		var b webhook.SendSMSBody
		if err := json.Unmarshal(ev.Body, &b); err != nil {
			t.Fatal(err)
		}
		if ev.Phone != b.Origin {
			t.Errorf("send_sms %q: outbox phone %d, body origin %d", b.Text, ev.Phone, b.Origin)
		}
		to2 = append(to2, b.Text)
	}
	want2 := []string{tests[0].name, tests[3].name}
	if !slices.Equal(to2, want2) {
		t.Errorf("the endpoint filtered on phone 2 got %q, want %q", to2, want2)
	}
}
