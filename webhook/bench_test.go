package webhook

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// BenchmarkNewRequest measures building one signed request per shape.
func BenchmarkNewRequest(b *testing.B) {
	m := eventMessage(b, ReceiveSMS, 1763805600)
	at := time.Unix(1763805600, 0)
	for _, e := range []Endpoint{
		{Name: "form", Secrets: []string{testSecret}},
		{Name: "get", Method: "get", Secrets: []string{testSecret}},
		{Name: "json", Format: "json", Secrets: []string{testSecret}},
		{Name: "template", Format: "template", Template: `{"text":"SMS from {{jsonEscape .Body.origin}}: {{jsonEscape .Body.text}}"}`, Secrets: []string{testSecret}},
		{Name: "form-2-secrets", Secrets: []string{testSecret, "old-secret"}},
	} {
		b.Run(e.Name, func(b *testing.B) {
			e.URL = "http://127.0.0.1/hook"
			enc, err := NewEncoder(e)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := enc.NewRequest(context.Background(), m, at); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify measures a receiver's full check (both signatures, parse,
// typed body) of one form request, and VerifyStandard alone.
func BenchmarkVerify(b *testing.B) {
	at := time.Unix(1763805600, 0)
	enc, err := NewEncoder(Endpoint{URL: "http://127.0.0.1/hook", Secrets: []string{testSecret}})
	if err != nil {
		b.Fatal(err)
	}
	req, err := enc.NewRequest(context.Background(), eventMessage(b, ReceiveSMS, at.Unix()), at)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	v := &Verifier{Secrets: []string{testSecret}, Now: func() time.Time { return at }}
	b.Run("Verifier", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := &http.Request{Method: http.MethodPost, URL: req.URL, Header: req.Header, Body: io.NopCloser(bytes.NewReader(body))}
			if _, err := v.Verify(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("VerifyStandard", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := VerifyStandard(v.Secrets, req.Header, body, at, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
