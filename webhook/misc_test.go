package webhook

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

func TestFormatDate(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	at := time.Date(2025, 3, 14, 8, 26, 53, 999, time.UTC)
	tests := []struct {
		loc  *time.Location
		want string
	}{
		{time.UTC, "2025-03-14 08:26:53"},
		{paris, "2025-03-14 09:26:53"},
		{time.FixedZone("", -10*3600), "2025-03-13 22:26:53"},
	}
	for _, tt := range tests {
		got := FormatDate(at, tt.loc)
		if got != tt.want {
			t.Errorf("FormatDate in %v = %s, want %s", tt.loc, got, tt.want)
		}
		back, err := ParseDate(got, tt.loc)
		if err != nil || !back.Equal(at.Truncate(time.Second)) {
			t.Errorf("ParseDate(%s) = %v, %v", got, back, err)
		}
	}
}

func TestTypes(t *testing.T) {
	want := []Type{"receive_sms", "send_sms", "send_sms_status_change", "inbound_call", "phone_reliability"}
	got := Types()
	if len(got) != len(want) {
		t.Fatalf("Types() = %v", got)
	}
	for i := range want {
		if got[i] != want[i] || !got[i].Valid() {
			t.Errorf("Types()[%d] = %q", i, got[i])
		}
	}
	got[0] = "changed"
	if Types()[0] != ReceiveSMS {
		t.Error("Types returns a shared slice")
	}
	for _, bad := range []Type{"", "RECEIVE_SMS", "receive_mms"} {
		if bad.Valid() {
			t.Errorf("%q is valid", bad)
		}
	}
}

// TestEncoderIsolatedAndConcurrent: changing the Endpoint after NewEncoder
// changes nothing, and one Encoder serves many goroutines (run with -race).
func TestEncoderIsolatedAndConcurrent(t *testing.T) {
	e := Endpoint{URL: "http://127.0.0.1/", Format: "template", Template: `{{jsonEscape .Body.text}} {{.Custom.k}}`,
		CustomData: map[string]string{"k": "v"}, Headers: map[string]string{"X-A": "1"}, Secrets: []string{testSecret}}
	enc, err := NewEncoder(e)
	if err != nil {
		t.Fatal(err)
	}
	e.CustomData["k"], e.Headers["X-A"], e.Secrets[0] = "changed", "changed", "changed"
	m := sampleMessage(t)
	at := time.Unix(1763805600, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			req, err := enc.NewRequest(context.Background(), m, at)
			if err != nil {
				errs <- err
				return
			}
			body, _ := io.ReadAll(req.Body)
			if want := `Hé \"you\" & 20€ 🚲\nbye v`; string(body) != want || req.Header.Get("X-A") != "1" {
				t.Errorf("body %q headers %v", body, req.Header)
			}
			if err := VerifyStandard([]string{testSecret}, req.Header, body, at, 0); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := enc.Endpoint(); got.Secrets[0] != testSecret || got.CustomData["k"] != "v" {
		t.Errorf("Endpoint() = %+v", got)
	}
}
