package receiver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

const (
	secret   = "receiver-secret-0123456789"
	previous = "the-previous-secret"
)

// clock is the receivers' fixed "now" in these tests.
var clock = time.Unix(1_800_000_000, 0)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// serve runs a Receiver behind a real HTTP server on 127.0.0.1.
func serve(t *testing.T, o Options) (*Receiver, *httptest.Server) {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return clock }
	}
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	if o.Secrets == nil {
		o.Secrets = []string{secret}
	}
	r := New(o)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

// TestAcceptsEveryTypeInEveryFormat sends each of the five events in the form,
// GET and JSON shapes and checks that both signatures verify and the event
// comes back as sent.
func TestAcceptsEveryTypeInEveryFormat(t *testing.T) {
	formats := []struct{ method, format string }{{"post", "form"}, {"get", "form"}, {"post", "json"}}
	for _, f := range formats {
		for _, typ := range webhook.Types() {
			t.Run(f.method+"/"+f.format+"/"+string(typ), func(t *testing.T) {
				var hooked []Verdict
				var jsonl bytes.Buffer
				rcv, srv := serve(t, Options{JSONL: &jsonl, OnEvent: func(v Verdict) { hooked = append(hooked, v) }})
				m := message(t, typ, clock.Add(-time.Hour))
				req := request(t, webhook.Endpoint{URL: srv.URL, Method: f.method, Format: f.format, Secrets: []string{secret}}, m, clock)
				status, answer, _ := send(t, srv.Client(), req)
				if status != http.StatusOK {
					t.Fatalf("status %d (%s)", status, answer)
				}
				vs := rcv.Verdicts()
				if len(vs) != 1 || len(hooked) != 1 {
					t.Fatalf("%d verdicts, %d hooked; want 1", len(vs), len(hooked))
				}
				v := vs[0]
				if v.Outcome != Accepted || !v.Legacy.OK || !v.Standard.OK || !v.Fresh || v.ID != m.RandomID {
					t.Fatalf("verdict %+v", v)
				}
				if v.Event == nil || v.Event.Type != typ || v.Event.RandomID != m.RandomID || v.Event.Timestamp != m.Timestamp {
					t.Fatalf("event %+v, want %s %s %d", v.Event, typ, m.RandomID, m.Timestamp)
				}
				if !jsonEqual(t, v.Event.Body, m.Body) {
					t.Errorf("body %s, want %s", v.Event.Body, m.Body)
				}
				var rec jsonlRecord
				if err := json.Unmarshal(jsonl.Bytes(), &rec); err != nil {
					t.Fatalf("jsonl %q: %v", jsonl.String(), err)
				}
				if rec.Verdict != Accepted || rec.WebhookType != string(typ) || rec.WebhookID != m.RandomID ||
					rec.Legacy != "valid" || rec.Standard != "valid" || !jsonEqual(t, rec.Body, m.Body) {
					t.Errorf("jsonl record %+v", rec)
				}
				if got := rcv.Stats(); got != (Stats{Accepted: 1}) {
					t.Errorf("stats %+v", got)
				}
			})
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

// TestVerdicts checks what the receiver decides, answers and explains for
// genuine, tampered, stale, badly keyed, legacy-only and odd requests.
func TestVerdicts(t *testing.T) {
	form := webhook.Endpoint{Method: "post", Format: "form", Secrets: []string{secret}}
	withSecrets := func(e webhook.Endpoint, s ...string) webhook.Endpoint { e.Secrets = s; return e }
	sms := func(t *testing.T) webhook.Message { return message(t, webhook.ReceiveSMS, clock.Add(-time.Minute)) }
	stripHeaders := func(req *http.Request) {
		for _, h := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
			req.Header.Del(h)
		}
	}
	tests := []struct {
		name     string
		opts     Options
		endpoint webhook.Endpoint
		attempt  time.Duration // relative to clock
		change   func(t *testing.T, req *http.Request)
		outcome  Outcome
		status   int
		legacy   string // valid, invalid, absent
		standard string
		reason   string // in the reasons
	}{
		{name: "genuine", endpoint: form, outcome: Accepted, status: 200, legacy: "valid", standard: "valid"},
		{name: "tampered body", endpoint: form, change: func(t *testing.T, r *http.Request) { tamper(t, r, "Hello", "Jello") },
			outcome: Rejected, status: 401, legacy: "valid", standard: "invalid", reason: "Standard Webhooks: does not match"},
		{name: "tampered query", endpoint: webhook.Endpoint{Method: "get", Secrets: []string{secret}},
			change:  func(t *testing.T, r *http.Request) { tamper(t, r, "Hello", "Jello") },
			outcome: Rejected, status: 401, legacy: "valid", standard: "invalid", reason: "does not match"},
		{name: "wrong secret", endpoint: withSecrets(form, "not-the-secret"),
			outcome: Rejected, status: 401, legacy: "invalid", standard: "invalid", reason: "legacy webhook_signature"},
		{name: "replayed 6 minutes later", endpoint: form, attempt: -6 * time.Minute,
			outcome: Rejected, status: 401, legacy: "valid", standard: "valid", reason: "6m0s old, beyond the 5m0s tolerance"},
		{name: "from 6 minutes in the future", endpoint: form, attempt: 6 * time.Minute,
			outcome: Rejected, status: 401, legacy: "valid", standard: "valid", reason: "in the future"},
		{name: "wider tolerance accepts an older attempt", opts: Options{Tolerance: 10 * time.Minute}, endpoint: form,
			attempt: -6 * time.Minute, outcome: Accepted, status: 200, legacy: "valid", standard: "valid"},
		{name: "legacy-only request refused by default", endpoint: form, change: func(_ *testing.T, r *http.Request) { stripHeaders(r) },
			outcome: Rejected, status: 401, legacy: "valid", standard: "absent", reason: "legacy-only requests are not accepted"},
		{name: "legacy-only request allowed", opts: Options{AllowLegacyOnly: true}, endpoint: form,
			change:  func(_ *testing.T, r *http.Request) { stripHeaders(r) },
			outcome: Accepted, status: 200, legacy: "valid", standard: "absent"},
		{name: "one header missing", endpoint: form, change: func(_ *testing.T, r *http.Request) { r.Header.Del("webhook-timestamp") },
			outcome: Rejected, status: 400, legacy: "valid", standard: "invalid", reason: "webhook-timestamp missing"},
		{name: "webhook-id swapped", endpoint: form, change: func(_ *testing.T, r *http.Request) { r.Header.Set("webhook-id", "1-00") },
			outcome: Rejected, status: 401, legacy: "valid", standard: "invalid", reason: "differs from webhook_random_id"},
		{name: "rotation: gateway still signs with the previous secret", opts: Options{Secrets: []string{secret, previous}},
			endpoint: withSecrets(form, previous), outcome: Accepted, status: 200, legacy: "valid", standard: "valid"},
		{name: "rotation: gateway lists new and old, receiver knows old", opts: Options{Secrets: []string{previous}},
			endpoint: withSecrets(form, secret, previous), outcome: Rejected, status: 401, legacy: "invalid", standard: "valid",
			reason: "legacy webhook_signature"},
		{name: "whsec secret", opts: Options{Secrets: []string{"whsec_c2l4dGVlbi1ieXRlLWtleQ=="}},
			endpoint: withSecrets(form, "whsec_c2l4dGVlbi1ieXRlLWtleQ=="), outcome: Accepted, status: 200, legacy: "valid", standard: "valid"},
		{name: "template body is checked by the headers alone",
			endpoint: webhook.Endpoint{Format: "template", Template: `{"text":"SMS for the team"}`, Secrets: []string{secret}},
			outcome:  Accepted, status: 200, legacy: "absent", standard: "valid"},
		{name: "template body tampered",
			endpoint: webhook.Endpoint{Format: "template", Template: `{"text":"SMS for the team"}`, Secrets: []string{secret}},
			change:   func(t *testing.T, r *http.Request) { tamper(t, r, "team", "boss") },
			outcome:  Rejected, status: 401, legacy: "absent", standard: "invalid", reason: "does not match"},
		{name: "not a webhook at all", endpoint: form,
			change: func(_ *testing.T, r *http.Request) {
				stripHeaders(r)
				setBody(r, []byte("hello=world"))
			},
			outcome: Rejected, status: 400, legacy: "absent", standard: "absent", reason: "not a simhook request"},
		{name: "body over the limit", opts: Options{MaxBodyBytes: 64}, endpoint: form,
			outcome: Rejected, status: 413, legacy: "absent", standard: "absent", reason: "body larger than 64 bytes"},
		{name: "no secret configured", opts: Options{Secrets: []string{}}, endpoint: form,
			outcome: Rejected, status: 401, legacy: "invalid", standard: "invalid", reason: "no secret configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv, srv := serve(t, tt.opts)
			e := tt.endpoint
			e.URL = srv.URL
			req := request(t, e, sms(t), clock.Add(tt.attempt))
			if tt.change != nil {
				tt.change(t, req)
			}
			status, answer, _ := send(t, srv.Client(), req)
			vs := rcv.Verdicts()
			if len(vs) != 1 {
				t.Fatalf("%d verdicts", len(vs))
			}
			v := vs[0]
			reasons := strings.Join(v.Reasons, "; ")
			if v.Outcome != tt.outcome || status != tt.status || v.Status != status ||
				checkWord(v.Legacy) != tt.legacy || checkWord(v.Standard) != tt.standard {
				t.Errorf("got %s %d (answered %d), legacy %s, standard %s, reasons %q; want %s %d, legacy %s, standard %s",
					v.Outcome, v.Status, status, checkWord(v.Legacy), checkWord(v.Standard), reasons,
					tt.outcome, tt.status, tt.legacy, tt.standard)
			}
			if !strings.Contains(reasons, tt.reason) || (tt.reason == "") != (len(v.Reasons) == 0) {
				t.Errorf("reasons %q, want one containing %q", reasons, tt.reason)
			}
			if tt.outcome == Rejected && !strings.Contains(answer, tt.reason) {
				t.Errorf("answer %q does not explain %q", answer, tt.reason)
			}
		})
	}
}

// TestDuplicates sends an accepted event again, as a retry would (fresh
// attempt time, same id), and many copies at once: each id is accepted once.
func TestDuplicates(t *testing.T) {
	rcv, srv := serve(t, Options{})
	e := webhook.Endpoint{URL: srv.URL, Format: "json", Secrets: []string{secret}}
	m := message(t, webhook.SendSMS, clock.Add(-time.Hour))
	if status, _, dup := send(t, srv.Client(), request(t, e, m, clock.Add(-time.Minute))); status != 200 || dup != "" {
		t.Fatalf("first: %d dup=%q", status, dup)
	}
	status, answer, dup := send(t, srv.Client(), request(t, e, m, clock))
	if status != 200 || dup != "1" || !strings.Contains(answer, "duplicate") {
		t.Fatalf("retry: %d dup=%q %q", status, dup, answer)
	}
	// A rejected copy does not poison the id: a later genuine one is accepted.
	m2 := message(t, webhook.SendSMS, clock)
	bad := request(t, e, m2, clock)
	tamper(t, bad, "4521", "0000")
	good := request(t, e, m2, clock)
	if status, _, _ := send(t, srv.Client(), bad); status != 401 {
		t.Fatalf("tampered copy: %d", status)
	}
	if status, _, dup := send(t, srv.Client(), good); status != 200 || dup != "" {
		t.Fatalf("genuine after a tampered copy: %d dup=%q", status, dup)
	}
	// Concurrent copies of one new event.
	m3 := message(t, webhook.InboundCall, clock)
	const copies = 16
	var wg sync.WaitGroup
	for range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			send(t, srv.Client(), request(t, e, m3, clock))
		}()
	}
	wg.Wait()
	want := Stats{Accepted: 3, Duplicates: 1 + copies - 1, Rejected: 1}
	if got := rcv.Stats(); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

// TestKeepsBoundedState checks that Verdicts and the ids remembered stay
// within their caps.
func TestKeepsBoundedState(t *testing.T) {
	rcv, srv := serve(t, Options{KeepVerdicts: 3, RememberIDs: 2})
	e := webhook.Endpoint{URL: srv.URL, Secrets: []string{secret}}
	var msgs []webhook.Message
	for range 5 {
		m := message(t, webhook.ReceiveSMS, clock)
		msgs = append(msgs, m)
		send(t, srv.Client(), request(t, e, m, clock))
	}
	vs := rcv.Verdicts()
	if len(vs) != 3 || vs[2].ID != msgs[4].RandomID || vs[0].ID != msgs[2].RandomID {
		t.Fatalf("kept %d verdicts", len(vs))
	}
	// The first id was forgotten (only 2 remembered): it is accepted again.
	send(t, srv.Client(), request(t, e, msgs[0], clock))
	send(t, srv.Client(), request(t, e, msgs[4], clock))
	if got := rcv.Stats(); got.Accepted != 6 || got.Duplicates != 1 {
		t.Errorf("stats %+v, want 6 accepted, 1 duplicate", got)
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// TestOutputFailureKeepsVerdicts checks that a broken output is counted and
// logged while verdicts and answers carry on.
func TestOutputFailureKeepsVerdicts(t *testing.T) {
	var logs bytes.Buffer
	rcv, srv := serve(t, Options{Out: failingWriter{}, JSONL: failingWriter{},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	m := message(t, webhook.PhoneReliability, clock)
	status, _, _ := send(t, srv.Client(), request(t, webhook.Endpoint{URL: srv.URL, Secrets: []string{secret}}, m, clock))
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	if got := rcv.Stats(); got.Accepted != 1 || got.WriteErrors != 2 {
		t.Errorf("stats %+v", got)
	}
	if !strings.Contains(logs.String(), "writing a verdict failed") {
		t.Errorf("logs %q", logs.String())
	}
}
