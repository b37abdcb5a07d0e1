package receiver

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

var update = flag.Bool("update", false, "rewrite testdata/pretty golden files")

// TestPretty compares what a person sees for each kind of verdict with the
// golden files in testdata/pretty (regenerate with -update, then read them).
func TestPretty(t *testing.T) {
	at := time.Date(2025, 3, 14, 9, 26, 55, 0, time.UTC)
	const id = "1741944413-0123456789abcdef0123456789abcdef"
	ok := Check{Present: true, OK: true, Secret: 0}
	event := func(typ webhook.Type, body string) *webhook.Event {
		return &webhook.Event{Type: typ, Timestamp: 1741944413, RandomID: id, Body: []byte(body)}
	}
	accepted := func(ev *webhook.Event) Verdict {
		return Verdict{At: at, Outcome: Accepted, Status: 200, Report: Report{Method: "POST", Format: "form", ID: id,
			Event: ev, Legacy: ok, Standard: ok, SentAt: at.Add(-2 * time.Second), Age: 2 * time.Second, Fresh: true,
			Tolerance: 5 * time.Minute}}
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "events", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	rejected := accepted(event(webhook.ReceiveSMS, read("receive_sms")))
	rejected.Outcome, rejected.Status = Rejected, 401
	rejected.Standard = Check{Present: true, Secret: -1, Err: webhook.ErrBadSignature}
	rejected.Reasons = rejected.Problems(false)
	dup := accepted(event(webhook.InboundCall, read("inbound_call")))
	dup.Outcome = Duplicate
	rotated := accepted(event(webhook.SendSMS, read("send_sms")))
	rotated.Format, rotated.Method = "json", "POST"
	rotated.Legacy.Secret, rotated.Standard.Secret = 1, 1
	ended := accepted(event(webhook.InboundCall,
		`{"id":3,"id_user":1,"id_phone":2,"uid":"a1b2c3","start":"2025-03-14 10:00:00","end":"2025-03-14 10:01:12","direction":"inbound","origin":null,"destination":null}`))
	template := Verdict{At: at, Outcome: Accepted, Status: 200, Report: Report{Method: "POST", Format: "template", ID: id,
		Body: []byte(`{"text":"SMS from +33612345678: Hello"}`), ParseErr: errors.New("not a form"), Standard: ok,
		SentAt: at, Fresh: true}}

	tests := []struct {
		name  string
		v     Verdict
		color bool
	}{
		{"receive_sms", accepted(event(webhook.ReceiveSMS, read("receive_sms"))), false},
		{"send_sms_rotated", rotated, false},
		{"send_sms_status_change", accepted(event(webhook.SendSMSStatusChange, read("send_sms_status_change"))), false},
		{"inbound_call_ringing", accepted(event(webhook.InboundCall, read("inbound_call"))), false},
		{"inbound_call_ended", ended, false},
		{"phone_reliability", accepted(event(webhook.PhoneReliability, read("phone_reliability"))), false},
		{"rejected_tampered", rejected, false},
		{"rejected_tampered_color", rejected, true},
		{"duplicate", dup, false},
		{"template", template, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.v.Pretty(tt.color)
			golden := filepath.Join("testdata", "pretty", tt.name+".txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestHeadlineClipsLongText checks that a long SMS is shortened in the
// headline but kept whole in the field list.
func TestHeadlineClipsLongText(t *testing.T) {
	long := strings.Repeat("é", 200)
	body := `{"id":1,"at":"2025-03-14 09:26:53","text":"` + long + `","destination":1,"origin":"+33612345678","command":false,"mms":false,"medias":[]}`
	r := Report{Event: &webhook.Event{Type: webhook.ReceiveSMS, Body: []byte(body)}}
	h := r.Headline()
	if strings.Contains(h, long) || !strings.Contains(h, "…") {
		t.Errorf("headline not clipped: %s", h)
	}
	v := Verdict{Outcome: Accepted, Report: r}
	if !strings.Contains(v.Pretty(false), long) {
		t.Error("the field list lost the full text")
	}
}
