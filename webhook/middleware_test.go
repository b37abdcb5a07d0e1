package webhook

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookServer runs v's Middleware on 127.0.0.1; the handler answers status
// and records the events it got.
type hookServer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []*Event
	status int
}

func newHookServer(t *testing.T, v *Verifier) *hookServer {
	t.Helper()
	h := &hookServer{status: http.StatusNoContent}
	h.srv = httptest.NewServer(v.Middleware(func(w http.ResponseWriter, _ *http.Request, ev *Event) {
		h.mu.Lock()
		h.events = append(h.events, ev)
		status := h.status
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookServer) handled() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.events)
}

// deliver sends req (built for another host) to the server and returns the
// status, answer and duplicate header.
func (h *hookServer) deliver(t *testing.T, req *http.Request) (int, string, string) {
	t.Helper()
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
	}
	out, err := http.NewRequest(req.Method, h.srv.URL+"/hook?"+req.URL.RawQuery, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	out.Header = req.Header.Clone()
	resp, err := h.srv.Client().Do(out)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer), resp.Header.Get(DuplicateHeader)
}

// encode builds the request of m for e at attempt.
func encode(t *testing.T, e Endpoint, m Message, attempt time.Time) *http.Request {
	t.Helper()
	if e.URL == "" {
		e.URL = "http://127.0.0.1/hook"
	}
	enc, err := NewEncoder(e)
	if err != nil {
		t.Fatal(err)
	}
	req, err := enc.NewRequest(context.Background(), m, attempt)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func replaceBody(t *testing.T, req *http.Request, old, new string) {
	t.Helper()
	if req.Method == http.MethodGet {
		if !strings.Contains(req.URL.RawQuery, old) {
			t.Fatalf("%q not in the query", old)
		}
		req.URL.RawQuery = strings.Replace(req.URL.RawQuery, old, new, 1)
		return
	}
	b, _ := io.ReadAll(req.Body)
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%q not in the body", old)
	}
	req.Body = io.NopCloser(bytes.NewReader(bytes.Replace(b, []byte(old), []byte(new), 1)))
}

// TestMiddlewareAnswers sends genuine and bad requests through a real
// server and checks the status, the reason given and whether the handler
// ran.
func TestMiddlewareAnswers(t *testing.T) {
	now := time.Unix(1763805600, 0)
	form := Endpoint{Secrets: []string{testSecret}}
	tests := []struct {
		name     string
		verifier *Verifier
		endpoint Endpoint
		attempt  time.Duration
		change   func(t *testing.T, r *http.Request)
		status   int
		reason   string
		handled  bool
	}{
		{name: "form", endpoint: form, status: 204, handled: true},
		{name: "get", endpoint: Endpoint{Method: "get", Secrets: []string{testSecret}}, status: 204, handled: true},
		{name: "json", endpoint: Endpoint{Format: "json", Secrets: []string{testSecret}}, status: 204, handled: true},
		{name: "template", endpoint: Endpoint{Format: "template", Template: `{"text":"hi"}`, Secrets: []string{testSecret}}, status: 204, handled: true},
		{name: "tampered body", endpoint: form, change: func(t *testing.T, r *http.Request) { replaceBody(t, r, "bye", "BYE") },
			status: 401, reason: "does not match"},
		{name: "tampered query", endpoint: Endpoint{Method: "get", Secrets: []string{testSecret}},
			change: func(t *testing.T, r *http.Request) { replaceBody(t, r, "bye", "BYE") }, status: 401, reason: "does not match"},
		{name: "tampered template", endpoint: Endpoint{Format: "template", Template: `{"text":"hi"}`, Secrets: []string{testSecret}},
			change: func(t *testing.T, r *http.Request) { replaceBody(t, r, "hi", "ho") }, status: 401, reason: "does not match"},
		{name: "wrong secret", endpoint: Endpoint{Secrets: []string{"another"}}, status: 401, reason: "does not match"},
		{name: "replayed 6 minutes later", endpoint: form, attempt: -6 * time.Minute, status: 401, reason: "too old"},
		{name: "6 minutes in the future", endpoint: form, attempt: 6 * time.Minute, status: 401, reason: "future"},
		{name: "wider tolerance", verifier: &Verifier{Tolerance: 10 * time.Minute}, endpoint: form, attempt: -6 * time.Minute,
			status: 204, handled: true},
		{name: "truncated signature", endpoint: form, change: func(_ *testing.T, r *http.Request) {
			s := r.Header.Get(HeaderSignature)
			r.Header.Set(HeaderSignature, s[:len(s)-8])
		}, status: 401, reason: "does not match"},
		{name: "no headers", endpoint: form, change: func(_ *testing.T, r *http.Request) {
			r.Header.Del(HeaderID)
			r.Header.Del(HeaderTimestamp)
			r.Header.Del(HeaderSignature)
		}, status: 401, reason: "legacy-only requests are not accepted"},
		{name: "no headers, legacy allowed", verifier: &Verifier{AllowLegacyOnly: true}, endpoint: form,
			change: func(_ *testing.T, r *http.Request) {
				r.Header.Del(HeaderID)
				r.Header.Del(HeaderTimestamp)
				r.Header.Del(HeaderSignature)
			}, status: 204, handled: true},
		{name: "one header missing", endpoint: form, change: func(_ *testing.T, r *http.Request) { r.Header.Del(HeaderTimestamp) },
			status: 400, reason: "webhook-timestamp missing"},
		{name: "timestamp not a number", endpoint: form, change: func(_ *testing.T, r *http.Request) { r.Header.Set(HeaderTimestamp, "soon") },
			status: 400, reason: "not Unix seconds"},
		{name: "rotation: old secret only", verifier: &Verifier{Secrets: []string{"old-secret"}},
			endpoint: Endpoint{Secrets: []string{"old-secret", "new-secret"}}, status: 204, handled: true},
		{name: "rotation: the gateway moved on", verifier: &Verifier{Secrets: []string{"old-secret"}},
			endpoint: Endpoint{Secrets: []string{"new-secret", "old-secret"}}, status: 401, reason: "webhook_signature"},
		{name: "body over the limit", verifier: &Verifier{MaxBodyBytes: 64}, endpoint: form, status: 413, reason: "over 64 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.verifier
			if v == nil {
				v = &Verifier{}
			}
			if v.Secrets == nil {
				v.Secrets = []string{testSecret}
			}
			v.Now = func() time.Time { return now }
			h := newHookServer(t, v)
			req := encode(t, tt.endpoint, sampleMessage(t), now.Add(tt.attempt))
			if tt.change != nil {
				tt.change(t, req)
			}
			status, answer, _ := h.deliver(t, req)
			if status != tt.status || !strings.Contains(answer, tt.reason) || (h.handled() == 1) != tt.handled {
				t.Errorf("status %d answer %q handled %d; want %d %q handled=%v", status, answer, h.handled(), tt.status, tt.reason, tt.handled)
			}
		})
	}
}

// TestMiddlewareDuplicates: a retry of a handled event is answered 200 with
// the duplicate header and not handled again; a retry of one whose handler
// failed is handled.
func TestMiddlewareDuplicates(t *testing.T) {
	now := time.Unix(1763805600, 0)
	v := &Verifier{Secrets: []string{testSecret}, Now: func() time.Time { return now }}
	h := newHookServer(t, v)
	m := sampleMessage(t)
	e := Endpoint{Format: "json", Secrets: []string{testSecret}}

	if status, _, dup := h.deliver(t, encode(t, e, m, now.Add(-time.Minute))); status != 204 || dup != "" {
		t.Fatalf("first: %d %q", status, dup)
	}
	status, answer, dup := h.deliver(t, encode(t, e, m, now)) // a retry: fresh attempt time, same id
	if status != 200 || dup != "1" || !strings.Contains(answer, "duplicate") || h.handled() != 1 {
		t.Fatalf("retry: %d %q %q, handled %d", status, dup, answer, h.handled())
	}

	// The handler fails: the sender retries, and the retry is handled.
	m2 := sampleMessage(t)
	h.mu.Lock()
	h.status = http.StatusServiceUnavailable
	h.mu.Unlock()
	if status, _, _ := h.deliver(t, encode(t, e, m2, now)); status != 503 {
		t.Fatalf("failing handler: %d", status)
	}
	h.mu.Lock()
	h.status = http.StatusOK
	h.mu.Unlock()
	if status, _, dup := h.deliver(t, encode(t, e, m2, now)); status != 200 || dup != "" || h.handled() != 3 {
		t.Fatalf("retry after a failure: %d %q, handled %d", status, dup, h.handled())
	}

	// A rejected copy does not spend the id.
	m3 := sampleMessage(t)
	bad := encode(t, e, m3, now)
	replaceBody(t, bad, "bye", "BYE")
	if status, _, _ := h.deliver(t, bad); status != 401 {
		t.Fatalf("tampered: %d", status)
	}
	if status, _, dup := h.deliver(t, encode(t, e, m3, now)); status != 200 || dup != "" {
		t.Fatalf("genuine after tampered: %d %q", status, dup)
	}

	// Concurrent copies of one new event: exactly one is handled.
	m4 := sampleMessage(t)
	before := h.handled()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { h.deliver(t, encode(t, e, m4, now)) })
	}
	wg.Wait()
	if got := h.handled() - before; got != 1 {
		t.Errorf("%d of 8 concurrent copies handled, want 1", got)
	}
}

// seenOnlyStore is a DedupeStore that cannot look an id up without
// recording it (no Peek), as a store of the first API was.
type seenOnlyStore struct{ l *LRU }

func (s seenOnlyStore) Seen(id string) bool { return s.l.Seen(id) }
func (s seenOnlyStore) Forget(id string)    { s.l.Forget(id) }

// TestMiddlewareInFlight: a retry that arrives while the first copy is
// still being handled is answered 503 with Retry-After (not "200
// duplicate"), so that when the first copy then fails the event is not lost:
// the next retry is handled.
func TestMiddlewareInFlight(t *testing.T) {
	now := time.Unix(1763805600, 0)
	tests := []struct {
		name  string
		store DedupeStore
	}{
		{"default LRU", nil},
		{"store without Peek", seenOnlyStore{NewLRU(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{Secrets: []string{testSecret}, Now: func() time.Time { return now }, Dedupe: tt.store}
			entered := make(chan struct{})
			release := make(chan int)
			var mu sync.Mutex
			calls, block := 0, true
			srv := httptest.NewServer(v.Middleware(func(w http.ResponseWriter, _ *http.Request, _ *Event) {
				mu.Lock()
				calls++
				b := block && calls == 1 // a second copy in the handler must not hang the test
				mu.Unlock()
				status := http.StatusOK
				if b {
					entered <- struct{}{}
					status = <-release
				}
				w.WriteHeader(status)
			}))
			defer srv.Close()
			h := &hookServer{srv: srv}
			m := sampleMessage(t)
			e := Endpoint{Format: "json", Secrets: []string{testSecret}}

			firstReq := encode(t, e, m, now.Add(-time.Minute))
			first := make(chan int, 1)
			go func() {
				resp, err := h.trySend(firstReq)
				if err != nil {
					t.Error(err)
				}
				first <- resp.status
			}()
			<-entered
			// A retry while the first copy is in the handler.
			req := encode(t, e, m, now)
			resp := h.send(t, req)
			if resp.status != http.StatusServiceUnavailable || resp.retryAfter != "1" || resp.duplicate != "" {
				t.Errorf("retry while in flight: %d Retry-After %q duplicate %q %q; want 503, Retry-After 1",
					resp.status, resp.retryAfter, resp.duplicate, resp.body)
			}
			// The first copy fails.
			mu.Lock()
			block = false
			mu.Unlock()
			release <- http.StatusInternalServerError
			if status := <-first; status != http.StatusInternalServerError {
				t.Fatalf("first copy: %d", status)
			}
			// The next retry is handled, and the one after it is a duplicate.
			if resp := h.send(t, encode(t, e, m, now)); resp.status != http.StatusOK || resp.duplicate != "" {
				t.Errorf("retry after the failure: %d duplicate %q %q; want it handled", resp.status, resp.duplicate, resp.body)
			}
			if resp := h.send(t, encode(t, e, m, now)); resp.status != http.StatusOK || resp.duplicate != "1" {
				t.Errorf("retry after the success: %d duplicate %q; want a duplicate", resp.status, resp.duplicate)
			}
			mu.Lock()
			defer mu.Unlock()
			if calls != 2 {
				t.Errorf("handler called %d times, want 2 (the failing copy and the retry)", calls)
			}
		})
	}
}

// answer is what a hookServer answered.
type answer struct {
	status                      int
	body, duplicate, retryAfter string
}

// send delivers req and returns the whole answer.
func (h *hookServer) send(t *testing.T, req *http.Request) answer {
	t.Helper()
	a, err := h.trySend(req)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// trySend delivers req (built for another host) and returns the whole
// answer; it may run on any goroutine.
func (h *hookServer) trySend(req *http.Request) (answer, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
	}
	out, err := http.NewRequest(req.Method, h.srv.URL+"/hook?"+req.URL.RawQuery, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	out.Header = req.Header.Clone()
	resp, err := h.srv.Client().Do(out)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: string(b), duplicate: resp.Header.Get(DuplicateHeader), retryAfter: resp.Header.Get("Retry-After")}, nil
}
