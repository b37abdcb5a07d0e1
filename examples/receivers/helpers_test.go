//go:build unix

package receivers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

// requireEnv, when set to 1, turns a missing interpreter into a failure
// instead of a skip: CI sets it once it has installed python3, nodejs, npm
// and php-cli, so no receiver can silently go untested there.
const requireEnv = "SIMHOOK_REQUIRE_RECEIVERS"

// skipUnlessRequired skips the test for the reason given, or fails it when
// requireEnv says every receiver must run.
func skipUnlessRequired(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("%s (and %s=1 requires every receiver to run)", reason, requireEnv)
	}
	t.Skip(reason)
}

// loadMessages returns one message per event type, bodies from
// testdata/events, with fresh random ids. The events happened an hour ago,
// as for a gateway that was offline: only the attempt's time must be fresh.
func loadMessages(t *testing.T) []webhook.Message {
	t.Helper()
	happened := time.Now().Add(-time.Hour).Unix()
	var msgs []webhook.Message
	for _, typ := range webhook.Types() {
		body, err := os.ReadFile(filepath.Join("testdata", "events", string(typ)+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var compacted bytes.Buffer
		if err := json.Compact(&compacted, body); err != nil {
			t.Fatalf("testdata %s: %v", typ, err)
		}
		msgs = append(msgs, newMessage(t, typ, happened, compacted.Bytes()))
	}
	return msgs
}

func newMessage(t *testing.T, typ webhook.Type, happened int64, body []byte) webhook.Message {
	t.Helper()
	id, err := webhook.NewRandomID(happened)
	if err != nil {
		t.Fatal(err)
	}
	return webhook.Message{Type: typ, Timestamp: happened, RandomID: id, Body: body}
}

// endpoint describes how a test endpoint wants its requests.
type endpoint struct {
	method, format string
	secrets        []string
}

// signedRequest builds the request simhook would send to url for m at
// attempt, with the webhook package's own Encoder.
func signedRequest(t *testing.T, url string, e endpoint, m webhook.Message, attempt time.Time) *http.Request {
	t.Helper()
	enc, err := webhook.NewEncoder(webhook.Endpoint{Name: "test", URL: url, Method: e.method, Format: e.format, Secrets: e.secrets})
	if err != nil {
		t.Fatalf("NewEncoder(%+v): %v", e, err)
	}
	req, err := enc.NewRequest(context.Background(), m, attempt)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	return req
}

// signedBytes returns what a request's Standard Webhooks signature covers:
// its body, or for GET its raw query string.
func signedBytes(t *testing.T, req *http.Request) []byte {
	t.Helper()
	if req.Method == http.MethodGet {
		return []byte(req.URL.RawQuery)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	setBody(req, body)
	return body
}

// setBody replaces a request's body.
func setBody(req *http.Request, body []byte) {
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
}

// tamper changes old into new in the signed part of req (body, or query for
// GET), leaving the signatures as they were.
func tamper(t *testing.T, req *http.Request, old, new string) {
	t.Helper()
	signed := string(signedBytes(t, req))
	if !strings.Contains(signed, old) {
		t.Fatalf("tamper: %q not in %q", old, signed)
	}
	changed := strings.Replace(signed, old, new, 1)
	if req.Method == http.MethodGet {
		req.URL.RawQuery = changed
		return
	}
	setBody(req, []byte(changed))
}
