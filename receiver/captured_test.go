package receiver

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

// specSecret is SPEC §2's test-vector key, used by testdata/captured.
const specSecret = "0123456789abcdef0123456789abcdef"

func readCapture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "captured", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyCapturedFiles checks captures made outside this code (see
// testdata/captured/README.md).
func TestVerifyCapturedFiles(t *testing.T) {
	sent := time.Unix(1700000007, 0)
	post := readCapture(t, "spec_vector_post.http")
	tests := []struct {
		name      string
		raw       []byte
		secrets   []string
		now       time.Time
		tolerance time.Duration
		format    string
		legacy    string
		standard  string
		secretIdx int // index of the matching secret, both schemes
		problem   string
		summary   string // in Report.String()
	}{
		{"post, fresh", post, []string{specSecret}, sent.Add(3 * time.Second), 5 * time.Minute,
			"form", "valid", "valid", 0, "", "genuine: both signatures valid"},
		{"post, an hour later", post, []string{specSecret}, sent.Add(time.Hour), 5 * time.Minute,
			"form", "valid", "valid", 0, "1h0m0s old", "BEYOND the 5m0s tolerance"},
		{"post, an hour later, age not judged", post, []string{specSecret}, sent.Add(time.Hour), 0,
			"form", "valid", "valid", 0, "", "1h0m0s ago, not judged"},
		{"post, second of two secrets", post, []string{"newer", specSecret}, sent, 0,
			"form", "valid", "valid", 1, "", "valid (with secret #2)"},
		{"post, wrong secret", post, []string{"not-it"}, sent, 0,
			"form", "invalid", "invalid", -1, "does not match", "NOT genuine"},
		{"post with LF line ends", bytes.ReplaceAll(post, []byte("\r\n"), []byte("\n")), []string{specSecret}, sent, 0,
			"form", "valid", "valid", 0, "", "genuine"},
		{"get", readCapture(t, "spec_vector_get.http"), []string{specSecret}, sent, 5 * time.Minute,
			"get", "valid", "valid", 0, "", "genuine"},
		{"fields only", readCapture(t, "spec_vector_fields.txt"), []string{specSecret}, sent, 5 * time.Minute,
			"form", "valid", "absent", 0, "", "no Standard Webhooks headers"},
		{"fields only, leading ?", append([]byte("?"), readCapture(t, "spec_vector_fields.txt")...), []string{specSecret}, sent, 0,
			"form", "valid", "absent", 0, "", "legacy signature valid"},
		{"fields only, wrong secret", readCapture(t, "spec_vector_fields.txt"), []string{"not-it"}, sent, 0,
			"form", "invalid", "absent", -1, "legacy webhook_signature", "NOT genuine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := VerifyCaptured(tt.raw, tt.secrets, tt.now, tt.tolerance)
			if err != nil {
				t.Fatal(err)
			}
			if r.Format != tt.format || checkWord(r.Legacy) != tt.legacy || checkWord(r.Standard) != tt.standard {
				t.Errorf("format %s, legacy %s, standard %s; want %s, %s, %s (%v / %v / %v)", r.Format,
					checkWord(r.Legacy), checkWord(r.Standard), tt.format, tt.legacy, tt.standard, r.ParseErr, r.Legacy.Err, r.Standard.Err)
			}
			if r.Legacy.Secret != tt.secretIdx || (r.Standard.Present && r.Standard.Secret != tt.secretIdx) {
				t.Errorf("matching secrets %d/%d, want %d", r.Legacy.Secret, r.Standard.Secret, tt.secretIdx)
			}
			if r.Type() != webhook.ReceiveSMS || r.ID != "1700000000-abababababababababababababababab" {
				t.Errorf("type %q id %q", r.Type(), r.ID)
			}
			problems := strings.Join(r.Problems(!r.Standard.Present), "; ")
			if (tt.problem == "") != (problems == "") || !strings.Contains(problems, tt.problem) {
				t.Errorf("problems %q, want %q", problems, tt.problem)
			}
			if s := r.String(); !strings.Contains(s, tt.summary) {
				t.Errorf("String() lacks %q:\n%s", tt.summary, s)
			}
		})
	}
}

// TestVerifyCapturedRejectsUnusableInput checks the error cases.
func TestVerifyCapturedRejectsUnusableInput(t *testing.T) {
	post := readCapture(t, "spec_vector_post.http")
	tests := map[string][]byte{
		"empty":            nil,
		"blank":            []byte(" \r\n\n"),
		"cut short":        post[:len(post)-20],
		"broken header":    []byte("POST /hook HTTP/1.1\r\nthis is not a header\r\n\r\n"),
		"bad content size": []byte("POST /hook HTTP/1.1\r\nContent-Length: -4\r\n\r\n"),
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := VerifyCaptured(raw, []string{specSecret}, time.Now(), 0)
			if !errors.Is(err, ErrCapture) {
				t.Errorf("err = %v, want ErrCapture", err)
			}
		})
	}
}

// recordOne listens on 127.0.0.1, records the raw bytes of one request, as
// `nc -l` would, answers 200 and returns what it recorded.
func recordOne(t *testing.T, req *http.Request) []byte {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		var raw bytes.Buffer
		// Parse only to know where the request ends; keep the bytes as sent.
		r, err := http.ReadRequest(bufio.NewReader(io.TeeReader(conn, &raw)))
		if err == nil {
			_, err = io.Copy(io.Discard, r.Body)
		}
		if err != nil {
			got <- nil
			return
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		got <- raw.Bytes()
	}()
	req.URL.Host = ln.Addr().String()
	req.Host = req.URL.Host
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	raw := <-got
	if raw == nil {
		t.Fatal("recorder failed")
	}
	return raw
}

// TestVerifyCapturedFromTheWire sends simhook's requests, in each format,
// through a real socket, records the bytes and verifies the recording.
func TestVerifyCapturedFromTheWire(t *testing.T) {
	now := time.Now()
	endpoints := []webhook.Endpoint{
		{Method: "post", Format: "form"},
		{Method: "get", Format: "form"},
		{Method: "post", Format: "json"},
		{Method: "post", Format: "template", Template: `{"text":"Hello, an SMS arrived"}`},
		{Method: "post", Format: "form", CustomData: map[string]string{"site": "paris"}, Headers: map[string]string{"X-Env": "test"}},
	}
	for _, e := range endpoints {
		for _, tampered := range []bool{false, true} {
			name := e.Method + "/" + e.Format
			if tampered {
				name += "/tampered"
			}
			t.Run(name, func(t *testing.T) {
				e.URL = "http://127.0.0.1:1/hook"
				e.Secrets = []string{secret}
				m := message(t, webhook.ReceiveSMS, now.Add(-time.Hour))
				raw := recordOne(t, request(t, e, m, now))
				if tampered {
					raw = bytes.Replace(raw, []byte("Hello"), []byte("Jello"), 1)
				}
				r, err := VerifyCaptured(raw, []string{secret}, now.Add(time.Second), webhook.DefaultTolerance)
				if err != nil {
					t.Fatalf("%v\n%s", err, raw)
				}
				if r.Standard.OK == tampered || r.ID != m.RandomID {
					t.Errorf("standard %+v, id %s:\n%s", r.Standard, r.ID, raw)
				}
				if e.Format != "template" && !tampered && (!r.Legacy.OK || r.Event == nil || r.Event.Type != m.Type) {
					t.Errorf("legacy %+v event %+v", r.Legacy, r.Event)
				}
				if r.Valid(false) == tampered {
					t.Errorf("Valid = %v with tampered = %v: %v", !tampered, tampered, r.Problems(false))
				}
			})
		}
	}
}
