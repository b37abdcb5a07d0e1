package receiver

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzVerifyCaptured feeds arbitrary captures to VerifyCaptured: it must never
// panic, must either explain the input (Report.String) or refuse it with
// ErrCapture, and must never call a capture valid without a verified legacy
// or Standard signature.
func FuzzVerifyCaptured(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "captured", "spec_vector_*"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte(`{"webhook_random_id":"1-00","webhook_type":"receive_sms","body":{}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := VerifyCaptured(raw, []string{specSecret}, time.Unix(1700000010, 0), 5*time.Minute)
		if err != nil {
			if !errors.Is(err, ErrCapture) {
				t.Fatalf("error without ErrCapture: %v", err)
			}
			return
		}
		_ = r.String()
		if r.Valid(true) && !r.Legacy.OK && !r.Standard.OK {
			t.Fatalf("valid without any verified signature: %+v", r)
		}
	})
}
