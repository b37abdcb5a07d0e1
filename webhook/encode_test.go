package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testSecret = "test-secret-0123456789"

// sampleMessage is a receive_sms event with characters that need escaping.
func sampleMessage(t testing.TB) Message {
	t.Helper()
	body, err := json.Marshal(ReceiveSMSBody{ID: 7, At: "2026-11-22 10:00:00", Text: "Hé \"you\" & 20€ 🚲\nbye", Destination: 1, Origin: "+33612345678", Medias: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := NewRandomID(1763805600)
	if err != nil {
		t.Fatal(err)
	}
	return Message{Type: ReceiveSMS, Timestamp: 1763805600, RandomID: id, Body: body}
}

// roundTrip encodes m for e, then reads and verifies it as a receiver would.
func roundTrip(t *testing.T, e Endpoint, m Message, attempt time.Time) (*http.Request, []byte, *Event) {
	t.Helper()
	enc, err := NewEncoder(e)
	if err != nil {
		t.Fatal(err)
	}
	req, err := enc.NewRequest(context.Background(), m, attempt)
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
	}
	req.Body = io.NopCloser(strings.NewReader(string(body)))
	v := &Verifier{Secrets: e.Secrets, Now: func() time.Time { return attempt }}
	ev, err := v.Verify(req)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return req, body, ev
}

func TestFormatsRoundTrip(t *testing.T) {
	m := sampleMessage(t)
	attempt := time.Unix(1763809200, 0) // an hour after the event: a retry
	custom := map[string]string{"account": "acme", "note": "a&b=c"}
	tests := []struct {
		name, method, format string
		wantMethod, wantCT   string
	}{
		{"form post", "", "", http.MethodPost, "application/x-www-form-urlencoded"},
		{"get", "get", "form", http.MethodGet, ""},
		{"json", "post", "json", http.MethodPost, "application/json"},
		{"json upper case", "POST", "JSON", http.MethodPost, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Endpoint{Name: "t", URL: "http://127.0.0.1/hook?token=abc", Method: tt.method, Format: tt.format,
				CustomData: custom, Headers: map[string]string{"X-Tenant": "42"}, Secrets: []string{testSecret}}
			req, _, ev := roundTrip(t, e, m, attempt)
			if req.Method != tt.wantMethod || req.Header.Get("Content-Type") != tt.wantCT {
				t.Errorf("method %s content-type %q", req.Method, req.Header.Get("Content-Type"))
			}
			if req.Header.Get("X-Tenant") != "42" || !strings.HasPrefix(req.Header.Get("User-Agent"), "simhook/") {
				t.Errorf("headers: %v", req.Header)
			}
			if req.Header.Get(HeaderTimestamp) != "1763809200" || req.Header.Get(HeaderID) != m.RandomID {
				t.Errorf("standard headers: %v", req.Header)
			}
			if ev.Type != m.Type || ev.Timestamp != m.Timestamp || ev.RandomID != m.RandomID {
				t.Errorf("fields: %+v", ev)
			}
			var want ReceiveSMSBody
			_ = json.Unmarshal(m.Body, &want)
			if !reflect.DeepEqual(*ev.ReceiveSMS, want) {
				t.Errorf("body %+v, want %+v", *ev.ReceiveSMS, want)
			}
			wantCustom := map[string]string{"account": "acme", "note": "a&b=c"}
			if tt.wantMethod == http.MethodGet {
				wantCustom["token"] = "abc" // the URL's own query
			}
			if !reflect.DeepEqual(ev.Custom, wantCustom) {
				t.Errorf("custom %v, want %v", ev.Custom, wantCustom)
			}
		})
	}
}

// TestFormFieldsAsRaspiSMS checks the legacy form carries exactly what a
// RaspiSMS receiver reads.
func TestFormFieldsAsRaspiSMS(t *testing.T) {
	m := sampleMessage(t)
	e := Endpoint{URL: "http://127.0.0.1/", Secrets: []string{testSecret}}
	_, body, _ := roundTrip(t, e, m, time.Unix(1763805600, 0))
	for _, f := range []string{"webhook_timestamp=1763805600", "webhook_random_id=" + m.RandomID, "webhook_signature=" + LegacySignature(testSecret, m.RandomID), "webhook_type=receive_sms", "body=%7B%22id%22%3A7"} {
		if !strings.Contains(string(body), f) {
			t.Errorf("form body lacks %s: %s", f, body)
		}
	}
}

func TestTemplateFormat(t *testing.T) {
	m := sampleMessage(t)
	e := Endpoint{Name: "mattermost", URL: "https://chat.example.com/hooks/x", Format: "template", Secrets: []string{testSecret},
		Template:   `{"text": {{json (printf "SMS from %s: %s" .Body.origin .Body.text)}}, "username": {{json .Custom.user}}}`,
		CustomData: map[string]string{"user": "simhook"}}
	_, body, ev := roundTrip(t, e, m, time.Unix(1763805600, 0))
	var msg struct{ Text, Username string }
	if err := json.Unmarshal(body, &msg); err != nil {
		t.Fatalf("template output is not JSON: %v\n%s", err, body)
	}
	if msg.Text != "SMS from +33612345678: Hé \"you\" & 20€ 🚲\nbye" || msg.Username != "simhook" {
		t.Errorf("rendered %+v", msg)
	}
	if ev.Type != "" || string(ev.Body) != string(body) || ev.RandomID != m.RandomID {
		t.Errorf("a template body is handed over raw: %+v", ev)
	}
}

func TestNewEncoderRefuses(t *testing.T) {
	ok := Endpoint{URL: "http://127.0.0.1/", Secrets: []string{"s"}}
	tests := []struct {
		name   string
		mutate func(*Endpoint)
	}{
		{"no secret", func(e *Endpoint) { e.Secrets = nil }},
		{"bad method", func(e *Endpoint) { e.Method = "put" }},
		{"bad format", func(e *Endpoint) { e.Format = "xml" }},
		{"relative url", func(e *Endpoint) { e.URL = "/hook" }},
		{"ftp url", func(e *Endpoint) { e.URL = "ftp://h/" }},
		{"bad template", func(e *Endpoint) { e.Format, e.Template = "template", "{{.Body" }},
		{"template with get", func(e *Endpoint) { e.Format, e.Template, e.Method = "template", "x", "get" }},
		{"bad whsec", func(e *Endpoint) { e.Secrets = []string{"whsec_***"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ok
			tt.mutate(&e)
			if _, err := NewEncoder(e); err == nil {
				t.Error("NewEncoder accepted it")
			}
		})
	}
	if _, err := NewEncoder(ok); err != nil {
		t.Fatalf("the valid endpoint: %v", err)
	}
}

// TestRotationSignsWithEverySecret: during a rotation each secret gets its
// own v1 signature, and a receiver holding either one verifies.
func TestRotationSignsWithEverySecret(t *testing.T) {
	m := sampleMessage(t)
	e := Endpoint{URL: "http://127.0.0.1/", Secrets: []string{"new-secret", "whsec_b2xkLXNlY3JldA=="}}
	enc, err := NewEncoder(e)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1763805600, 0)
	req, err := enc.NewRequest(context.Background(), m, at)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	if n := len(strings.Fields(req.Header.Get(HeaderSignature))); n != 2 {
		t.Fatalf("%d signatures, want 2", n)
	}
	for _, s := range e.Secrets {
		if err := VerifyStandard([]string{s}, req.Header, body, at, 0); err != nil {
			t.Errorf("receiver with %q: %v", s, err)
		}
	}
	if err := VerifyLegacy("new-secret", m.RandomID, LegacySignature("new-secret", m.RandomID)); err != nil {
		t.Error(err)
	}
}
