//go:build unix

package receivers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/webhook"
)

// recorded is one request the agent really sent.
type recorded struct {
	endpoint string
	method   string
	rawQuery string
	header   http.Header
	body     []byte
}

// recorder sits between the agent and a receiver: it forwards each request
// unchanged and keeps a copy, so the test can replay and alter real traffic.
type recorder struct {
	target string
	client *http.Client
	mu     sync.Mutex
	reqs   []recorded
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, recorded{endpoint: r.URL.Path, method: r.Method, rawQuery: r.URL.RawQuery, header: r.Header.Clone(), body: body})
	rc.mu.Unlock()
	resp, err := rc.send(r.Context(), r.Method, r.URL.RawQuery, r.Header, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.WriteHeader(resp)
}

// send delivers one request to the receiver and returns its status.
func (rc *recorder) send(ctx context.Context, method, rawQuery string, h http.Header, body []byte) (int, error) {
	u := rc.target
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header = h.Clone()
	resp, err := rc.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// first returns the first recorded form POST from the given endpoint path.
func (rc *recorder) first(path string) (recorded, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, r := range rc.reqs {
		if r.endpoint == path && r.method == http.MethodPost && r.header.Get("Content-Type") == "application/x-www-form-urlencoded" {
			return r, true
		}
	}
	return recorded{}, false
}

// TestAgentToReceivers runs the real agent on a simulated modem against each
// example receiver as a real process. Through three endpoints (form POST,
// JSON and GET) the receiver must accept all five event types; an endpoint
// with the wrong secret must be refused; and, replaying the agent's real
// requests, a repeat must be a duplicate, a tampered body and a correctly
// signed request ten minutes old must be refused.
func TestAgentToReceivers(t *testing.T) {
	for _, lang := range Langs() {
		t.Run(string(lang), func(t *testing.T) {
			if err := Available(lang); err != nil {
				skipUnlessRequired(t, err.Error())
			}
			testAgentToReceiver(t, lang)
		})
	}
}

func testAgentToReceiver(t *testing.T, lang Lang) {
	const secret = "agent-to-receiver-secret-0123456789"
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	p, err := Start(ctx, Config{Lang: lang, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	rec := &recorder{target: p.URL, client: &http.Client{Timeout: 10 * time.Second}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxy := &http.Server{Handler: rec, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = proxy.Serve(ln) }()
	defer proxy.Close()
	base := "http://" + ln.Addr().String()

	l, err := lab.Start(ctx, lab.Options{
		Dir: t.TempDir(),
		Endpoints: []lab.Endpoint{
			{Name: "form", URL: base + "/form", Secret: secret},
			{Name: "json", URL: base + "/json", Secret: secret, Format: "json"},
			{Name: "get", URL: base + "/get", Secret: secret, Method: "get"},
			{Name: "wrong-secret", URL: base + "/wrong", Secret: "not-the-receivers-secret", Events: []string{"receive_sms"}},
		},
		ExtraYAML: "reliability:\n  failed: {enabled: true, rate: 0.5, min_volume: 2, period: 120m, grace: 0s}\n",
		Agent:     agent.Options{StopTimeout: 2 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	// One of each event type: 1 receive, 2 sends with 2 status changes,
	// a call (start and end), and a reliability alert.
	m := l.Modems[0]
	m.SetSendRule("+33600000666", modemsim.SendRule{Outcome: modemsim.Failed})
	if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: "Hello receiver 👋"}); err != nil {
		t.Fatal(err)
	}
	a := l.Agent()
	for i := range 2 {
		if _, err := a.Submit(ctx, agent.SendRequest{To: "+33600000666", Text: fmt.Sprintf("fails %d", i), Tag: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	call := m.InjectCall("+33698765432")
	if err := l.WaitEvents(ctx, webhook.InboundCall, 1); err != nil {
		t.Fatal(err)
	}
	call.Hangup()
	if err := l.WaitEvents(ctx, webhook.SendSMSStatusChange, 2); err != nil {
		t.Fatal(err)
	}
	if err := a.CheckReliability(ctx); err != nil {
		t.Fatal(err)
	}
	perEndpoint := map[webhook.Type]int{webhook.ReceiveSMS: 1, webhook.SendSMS: 2, webhook.SendSMSStatusChange: 2, webhook.InboundCall: 2, webhook.PhoneReliability: 1}
	wantAccepts := 0
	for _, n := range perEndpoint {
		wantAccepts += 3 * n
	}

	// Read the receiver's verdicts until every expected acceptance is in.
	accepted := map[string]int{}
	total, rejectedWrong := 0, 0
	for total < wantAccepts || rejectedWrong == 0 {
		v, err := p.Next(ctx)
		if err != nil {
			st, _ := l.Agent().Outbox().Stats()
			t.Logf("outbox: %+v", st)
			t.Fatalf("after %d acceptances (%v) and %d wrong-secret refusals: %v\n%s", total, accepted, rejectedWrong, err, p.Stderr())
		}
		switch v.Outcome {
		case "accept":
			accepted[v.Detail]++
			total++
		case "reject":
			rejectedWrong++
			t.Logf("refused: %s", v.Line)
		case "duplicate":
			t.Logf("duplicate: %s", v.Line)
			// A retry of a delivered request; allowed, and absorbed.
		}
	}
	for typ, n := range perEndpoint {
		if accepted[string(typ)] != 3*n {
			t.Errorf("%s: accepted %d, want %d (3 endpoints × %d)", typ, accepted[string(typ)], 3*n, n)
		}
	}

	// Replays of real traffic.
	orig, ok := rec.first("/form")
	if !ok {
		t.Fatal("no form request recorded")
	}
	id := orig.header.Get("webhook-id")
	expect := func(name, wantOutcome, wantID string, status int) {
		t.Helper()
		for {
			v, err := p.Next(ctx)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if v.ID != wantID {
				continue // a retry from the wrong-secret endpoint
			}
			if v.Outcome != wantOutcome {
				t.Errorf("%s: verdict %q, want %s", name, v.Line, wantOutcome)
			}
			if wantOutcome == "reject" && status < 400 {
				t.Errorf("%s: answered %d, want 4xx", name, status)
			}
			return
		}
	}
	status, err := rec.send(ctx, orig.method, orig.rawQuery, orig.header, orig.body)
	if err != nil {
		t.Fatal(err)
	}
	expect("exact replay", "duplicate", id, status)

	tampered := bytes.Replace(orig.body, []byte("body="), []byte("body=%20"), 1)
	status, err = rec.send(ctx, orig.method, orig.rawQuery, orig.header, tampered)
	if err != nil {
		t.Fatal(err)
	}
	expect("tampered body", "reject", id, status)

	stale, staleHeader, staleID := resign(t, orig, secret, time.Now().Add(-10*time.Minute))
	status, err = rec.send(ctx, orig.method, orig.rawQuery, staleHeader, stale)
	if err != nil {
		t.Fatal(err)
	}
	expect("signed ten minutes ago", "reject", staleID, status)
}

// resign turns a recorded form request into a new, correctly signed request
// with a fresh id, as if captured at the given time.
func resign(t *testing.T, r recorded, secret string, at time.Time) ([]byte, http.Header, string) {
	t.Helper()
	form, err := url.ParseQuery(string(r.body))
	if err != nil {
		t.Fatal(err)
	}
	id, err := webhook.NewRandomID(at.Unix())
	if err != nil {
		t.Fatal(err)
	}
	form.Set("webhook_random_id", id)
	form.Set("webhook_timestamp", strconv.FormatInt(at.Unix(), 10))
	form.Set("webhook_signature", webhook.LegacySignature(secret, id))
	body := []byte(form.Encode())
	key, err := webhook.SecretKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	h := r.header.Clone()
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("webhook-signature", webhook.StandardSignature(key, id, at.Unix(), body))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	return body, h, id
}
