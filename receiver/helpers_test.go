package receiver

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

// message returns an event of type typ, body from testdata/events, that
// happened at happened.
func message(t testing.TB, typ webhook.Type, happened time.Time) webhook.Message {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "events", string(typ)+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	if err := json.Compact(&body, raw); err != nil {
		t.Fatalf("testdata %s: %v", typ, err)
	}
	id, err := webhook.NewRandomID(happened.Unix())
	if err != nil {
		t.Fatal(err)
	}
	return webhook.Message{Type: typ, Timestamp: happened.Unix(), RandomID: id, Body: body.Bytes()}
}

// request builds, with the webhook package's Encoder, the request simhook
// sends for m to url at attempt.
func request(t testing.TB, e webhook.Endpoint, m webhook.Message, attempt time.Time) *http.Request {
	t.Helper()
	if e.Name == "" {
		e.Name = "test"
	}
	enc, err := webhook.NewEncoder(e)
	if err != nil {
		t.Fatalf("NewEncoder: %v", err)
	}
	req, err := enc.NewRequest(context.Background(), m, attempt)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	return req
}

// body reads a request's body and puts it back.
func body(t testing.TB, req *http.Request) []byte {
	t.Helper()
	if req.Body == nil {
		return nil
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	setBody(req, b)
	return b
}

func setBody(req *http.Request, b []byte) {
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.ContentLength = int64(len(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// tamper replaces old by new in the request's signed bytes.
func tamper(t testing.TB, req *http.Request, old, new string) {
	t.Helper()
	if req.Method == http.MethodGet {
		if !strings.Contains(req.URL.RawQuery, old) {
			t.Fatalf("tamper: %q not in the query", old)
		}
		req.URL.RawQuery = strings.Replace(req.URL.RawQuery, old, new, 1)
		return
	}
	b := string(body(t, req))
	if !strings.Contains(b, old) {
		t.Fatalf("tamper: %q not in the body %q", old, b)
	}
	setBody(req, []byte(strings.Replace(b, old, new, 1)))
}

// send sends req and returns the answer's status, body and duplicate header.
func send(t testing.TB, client *http.Client, req *http.Request) (int, string, string) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get(DuplicateHeader)
}
