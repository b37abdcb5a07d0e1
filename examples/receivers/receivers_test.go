//go:build unix

package receivers

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

// step is one request sent to a receiver and what the receiver must answer.
type step struct {
	name    string
	req     *http.Request
	outcome string   // accept, duplicate or reject
	details []string // acceptable details: the event type, or the reasons
	status  int      // 0: any 4xx
	id      string   // expected id in the verdict line
}

// secretKinds are the kinds of secret a receiver must handle: an ordinary
// string (its bytes are the key), one with non-ASCII characters (simhook
// keys with its UTF-8 bytes, so a receiver must too) and a whsec_ one
// (base64 key).
var secretKinds = []struct{ name, secret, other string }{
	{"plain-secret", "receiver-test-secret-0123456789", "a-different-secret"},
	{"non-ascii-secret", "clé-secrète-ünïcode-€-0123456789", "une-autre-clé-€"},
	{"whsec-secret", "whsec_" + base64.StdEncoding.EncodeToString([]byte("sixteen-byte-key+more-bytes-here")),
		"whsec_" + base64.StdEncoding.EncodeToString([]byte("another key entirely, 32 bytes."))},
}

// TestReceivers runs each example receiver as a real process and sends it
// real signed requests: every event type in every format must be accepted;
// a tampered body, a wrong secret, a replay outside the tolerance, a forged
// legacy-only request and a wrong rotation order must be rejected; a repeat
// must be recognised as a duplicate.
func TestReceivers(t *testing.T) {
	for _, lang := range Langs() {
		t.Run(string(lang), func(t *testing.T) {
			t.Parallel()
			if err := Available(lang); err != nil {
				skipUnlessRequired(t, err.Error())
			}
			work := t.TempDir() // shared by both runs: the Go receiver is built once
			for _, sk := range secretKinds {
				t.Run(sk.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
					defer cancel()
					p, err := Start(ctx, Config{Lang: lang, Secret: sk.secret, WorkDir: work})
					if err != nil {
						t.Fatal(err)
					}
					defer func() {
						if err := p.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					}()
					for _, s := range steps(t, p.URL, sk.secret, sk.other) {
						runStep(ctx, t, p, s)
					}
				})
			}
		})
	}
}

// steps builds the scenario against url for a receiver knowing secret.
func steps(t *testing.T, url, secret, other string) []step {
	now := time.Now()
	good := []endpoint{
		{method: "post", format: "form", secrets: []string{secret}},
		{method: "get", format: "form", secrets: []string{secret}},
		{method: "post", format: "json", secrets: []string{secret}},
	}
	var ss []step
	// Every event type in every format is accepted.
	for _, e := range good {
		for _, m := range loadMessages(t) {
			ss = append(ss, step{name: "accept " + e.method + "/" + e.format + " " + string(m.Type),
				req: signedRequest(t, url, e, m, now), outcome: "accept", details: []string{string(m.Type)},
				status: http.StatusOK, id: m.RandomID})
		}
	}
	sms := func() webhook.Message { return loadMessages(t)[0] } // a fresh receive_sms each time
	// A body changed in transit: the legacy signature still passes, the header does not.
	for _, e := range good {
		m := sms()
		req := signedRequest(t, url, e, m, now)
		tamper(t, req, "Hello", "Jello")
		ss = append(ss, step{name: "tampered " + e.method + "/" + e.format, req: req, outcome: "reject",
			details: []string{"standard-signature"}, status: http.StatusUnauthorized, id: m.RandomID})
	}
	// Signed with another secret.
	m := sms()
	ss = append(ss, step{name: "wrong secret", req: signedRequest(t, url, endpoint{"post", "form", []string{other}}, m, now),
		outcome: "reject", details: []string{"standard-signature", "legacy-signature"}, status: http.StatusUnauthorized, id: m.RandomID})
	// A genuine request replayed later than the tolerance, or stamped in the future.
	for _, skew := range []time.Duration{-6 * time.Minute, -48 * time.Hour, 6 * time.Minute} {
		m := sms()
		ss = append(ss, step{name: "attempt at now" + skew.String(), req: signedRequest(t, url, good[0], m, now.Add(skew)),
			outcome: "reject", details: []string{"timestamp"}, status: http.StatusUnauthorized, id: m.RandomID})
	}
	// The legacy weakness: a captured id + webhook_signature replayed with
	// another body and without the headers. Only the header check stops it.
	m = sms()
	forged := signedRequest(t, url, good[0], m, now)
	fields, err := parseForm(signedBytes(t, forged))
	if err != nil {
		t.Fatal(err)
	}
	fields.Set("body", strings.Replace(fields.Get("body"), "Hello", "Send 100 EUR to", 1))
	setBody(forged, []byte(fields.Encode()))
	for _, h := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		forged.Header.Del(h)
	}
	ss = append(ss, step{name: "forged legacy-only", req: forged, outcome: "reject",
		details: []string{"no-standard-headers"}, status: http.StatusUnauthorized, id: "-"})
	// Rotation: the gateway lists [current, previous]; any v1 signature may match.
	m = sms()
	ss = append(ss, step{name: "rotation, receiver has the current secret",
		req: signedRequest(t, url, endpoint{"post", "form", []string{secret, other}}, m, now), outcome: "accept",
		details: []string{string(m.Type)}, status: http.StatusOK, id: m.RandomID})
	m = sms()
	ss = append(ss, step{name: "rotation, receiver still has the previous secret",
		req: signedRequest(t, url, endpoint{"post", "form", []string{other, secret}}, m, now), outcome: "reject",
		details: []string{"legacy-signature"}, status: http.StatusUnauthorized, id: m.RandomID})
	// A retry of an accepted event: fresh timestamp and signature, same id.
	for _, e := range good {
		m := loadMessages(t)[3]
		ss = append(ss,
			step{name: "first " + e.method + "/" + e.format, req: signedRequest(t, url, e, m, now.Add(-2*time.Second)),
				outcome: "accept", details: []string{string(m.Type)}, status: http.StatusOK, id: m.RandomID},
			step{name: "retry " + e.method + "/" + e.format, req: signedRequest(t, url, e, m, now),
				outcome: "duplicate", details: []string{string(m.Type)}, status: http.StatusOK, id: m.RandomID})
	}
	return ss
}

// runStep sends one request and checks the answer and the verdict line.
func runStep(ctx context.Context, t *testing.T, p *Process, s step) {
	t.Helper()
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Do(s.req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	resp.Body.Close()
	v, err := p.Next(ctx)
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	if v.Outcome != s.outcome || !slices.Contains(s.details, v.Detail) || v.ID != s.id {
		t.Errorf("%s: verdict %q, want %s %v %s", s.name, v.Line, s.outcome, s.details, s.id)
	}
	switch {
	case s.status != 0 && resp.StatusCode != s.status:
		t.Errorf("%s: HTTP %d, want %d", s.name, resp.StatusCode, s.status)
	case s.status == 0 && (resp.StatusCode < 400 || resp.StatusCode > 499):
		t.Errorf("%s: HTTP %d, want a 4xx", s.name, resp.StatusCode)
	}
}

func parseForm(b []byte) (url.Values, error) { return url.ParseQuery(string(b)) }
