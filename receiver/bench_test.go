package receiver

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

// BenchmarkServeHTTP measures judging one genuine form request (both
// signatures, parse, de-duplication, pretty print and JSON line), in process.
func BenchmarkServeHTTP(b *testing.B) {
	rcv := New(Options{Secrets: []string{secret}, Now: func() time.Time { return clock }, Out: io.Discard,
		JSONL: io.Discard, Logger: quietLogger(), KeepVerdicts: 64})
	e := webhook.Endpoint{URL: "http://127.0.0.1/hook", Secrets: []string{secret}}
	reqs := make([]*http.Request, 1024)
	bodies := make([][]byte, len(reqs))
	for i := range reqs {
		reqs[i] = request(b, e, message(b, webhook.ReceiveSMS, clock), clock)
		bodies[i] = body(b, reqs[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req := reqs[i%len(reqs)]
		req.Body = io.NopCloser(bytes.NewReader(bodies[i%len(reqs)]))
		w := httptest.NewRecorder()
		rcv.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkVerifyCaptured measures checking one recorded HTTP request.
func BenchmarkVerifyCaptured(b *testing.B) {
	raw, err := os.ReadFile("testdata/captured/spec_vector_post.http")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r, err := VerifyCaptured(raw, []string{specSecret}, time.Unix(1700000010, 0), webhook.DefaultTolerance)
		if err != nil || !r.Valid(false) {
			b.Fatalf("%v %v", err, r.Problems(false))
		}
	}
}
