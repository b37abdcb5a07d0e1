package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// signedRequest returns a genuine form request and its body, sent at at.
func signedRequest(t *testing.T, secret string, at time.Time) (*http.Request, []byte) {
	t.Helper()
	enc, err := NewEncoder(Endpoint{URL: "http://127.0.0.1/hook", Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	req, err := enc.NewRequest(context.Background(), sampleMessage(t), at)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	return req, body
}

func TestVerifyStandardRejects(t *testing.T) {
	now := time.Unix(1763805600, 0)
	tests := []struct {
		name   string
		mutate func(h http.Header, body []byte) []byte
		secret string
		at     time.Time
		want   error
	}{
		{"genuine", nil, testSecret, now, nil},
		{"tampered body", func(_ http.Header, b []byte) []byte { return bytes.Replace(b, []byte("bye"), []byte("BYE"), 1) }, testSecret, now, ErrBadSignature},
		{"wrong secret", nil, "another-secret", now, ErrBadSignature},
		{"replay outside tolerance", nil, testSecret, now.Add(6 * time.Minute), ErrTimestampTooOld},
		{"from the future", nil, testSecret, now.Add(-6 * time.Minute), ErrTimestampTooNew},
		{"truncated signature", func(h http.Header, b []byte) []byte {
			s := h.Get(HeaderSignature)
			h.Set(HeaderSignature, s[:len(s)-4])
			return b
		}, testSecret, now, ErrBadSignature},
		{"not v1", func(h http.Header, b []byte) []byte {
			h.Set(HeaderSignature, strings.Replace(h.Get(HeaderSignature), "v1,", "v2,", 1))
			return b
		}, testSecret, now, ErrBadSignature},
		{"timestamp changed", func(h http.Header, b []byte) []byte { h.Set(HeaderTimestamp, "1763805601"); return b }, testSecret, now, ErrBadSignature},
		{"id changed", func(h http.Header, b []byte) []byte { h.Set(HeaderID, "other"); return b }, testSecret, now, ErrBadSignature},
		{"no headers", func(h http.Header, b []byte) []byte {
			h.Del(HeaderID)
			h.Del(HeaderTimestamp)
			h.Del(HeaderSignature)
			return b
		}, testSecret, now, ErrNoSignature},
		{"missing signature header", func(h http.Header, b []byte) []byte { h.Del(HeaderSignature); return b }, testSecret, now, ErrNoSignature},
		{"signature split over two header lines", func(h http.Header, b []byte) []byte {
			h.Set(HeaderSignature, "v1,bm90LXRoaXMtb25l")
			h.Add(HeaderSignature, StandardSignature([]byte(testSecret), h.Get(HeaderID), 1763805600, b))
			return b
		}, testSecret, now, nil},
		{"timestamp not a number", func(h http.Header, b []byte) []byte { h.Set(HeaderTimestamp, "soon"); return b }, testSecret, now, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, body := signedRequest(t, testSecret, now)
			if tt.mutate != nil {
				body = tt.mutate(req.Header, body)
			}
			verifyAt := now
			if !tt.at.Equal(now) {
				verifyAt = tt.at
			}
			err := VerifyStandard([]string{tt.secret}, req.Header, body, verifyAt, DefaultTolerance)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("VerifyStandard = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyLegacyRejects(t *testing.T) {
	id := "1700000000-abababababababababababababababab"
	good := LegacySignature(testSecret, id)
	tests := []struct {
		name, secret, id, sig string
		want                  error
	}{
		{"genuine", testSecret, id, good, nil},
		{"upper-case hex", testSecret, id, strings.ToUpper(good), nil},
		{"wrong secret", "nope", id, good, ErrBadSignature},
		{"other id", testSecret, "1700000000-cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", good, ErrBadSignature},
		{"truncated", testSecret, id, good[:40], ErrBadSignature},
		{"not hex", testSecret, id, "zz" + good[2:], ErrBadSignature},
		{"missing", testSecret, id, "", ErrNoSignature},
	}
	for _, tt := range tests {
		err := VerifyLegacy(tt.secret, tt.id, tt.sig)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: VerifyLegacy = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestMiddlewareOverHTTP delivers real requests to an httptest server on
// 127.0.0.1 guarded by the middleware.
func TestMiddlewareOverHTTP(t *testing.T) {
	var handled atomic.Int32
	var mu sync.Mutex
	var got []*Event
	v := &Verifier{Secrets: []string{testSecret}}
	srv := httptest.NewServer(v.Middleware(func(w http.ResponseWriter, _ *http.Request, ev *Event) {
		handled.Add(1)
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	send := func(req *http.Request, body []byte) *http.Response {
		t.Helper()
		out, err := http.NewRequest(req.Method, srv.URL+"/hook?"+req.URL.RawQuery, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		out.Header = req.Header.Clone()
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	now := time.Now()
	req, body := signedRequest(t, testSecret, now)
	if resp := send(req, body); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("genuine: %d", resp.StatusCode)
	}
	resp := send(req, body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get(DuplicateHeader) != "1" {
		t.Errorf("duplicate: %d %v", resp.StatusCode, resp.Header)
	}
	req2, body2 := signedRequest(t, testSecret, now)
	if resp := send(req2, bytes.Replace(body2, []byte("bye"), []byte("BYE"), 1)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("tampered: %d", resp.StatusCode)
	}
	req3, body3 := signedRequest(t, "wrong", now)
	if resp := send(req3, body3); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d", resp.StatusCode)
	}
	req4, body4 := signedRequest(t, testSecret, now.Add(-time.Hour))
	if resp := send(req4, body4); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("replayed an hour later: %d", resp.StatusCode)
	}
	if resp := send(req4, []byte("garbage")); resp.StatusCode == http.StatusNoContent {
		t.Errorf("garbage accepted")
	}
	if n := handled.Load(); n != 1 {
		t.Fatalf("handler called %d times, want once", n)
	}
	if got[0].ReceiveSMS == nil || got[0].ReceiveSMS.Origin != "+33612345678" {
		t.Errorf("event %+v", got[0])
	}
}

func TestLegacyOnlyRequests(t *testing.T) {
	now := time.Unix(1763805600, 0)
	req, body := signedRequest(t, testSecret, now)
	for _, h := range []string{HeaderID, HeaderTimestamp, HeaderSignature} {
		req.Header.Del(h)
	}
	for _, allow := range []bool{false, true} {
		v := &Verifier{Secrets: []string{testSecret}, AllowLegacyOnly: allow, Now: func() time.Time { return now }}
		r := req.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(body))
		_, err := v.Verify(r)
		if allow != (err == nil) {
			t.Errorf("AllowLegacyOnly=%v: %v", allow, err)
		}
	}
}

func TestLRU(t *testing.T) {
	l := NewLRU(2)
	steps := []struct {
		id   string
		seen bool
	}{{"a", false}, {"b", false}, {"a", true}, {"c", false}, {"b", false}, {"a", false}}
	for i, s := range steps {
		if got := l.Seen(s.id); got != s.seen {
			t.Fatalf("step %d Seen(%s) = %v, want %v", i, s.id, got, s.seen)
		}
	}
	if l.Len() != 2 {
		t.Errorf("Len = %d", l.Len())
	}
}
