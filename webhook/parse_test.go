package webhook

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestParseRequestRefuses lists requests that are not simhook events; each
// error must wrap ErrMalformed.
func TestParseRequestRefuses(t *testing.T) {
	const ok = "webhook_timestamp=1&webhook_random_id=1-ab&webhook_signature=x&webhook_type=receive_sms&body=%7B%22id%22%3A1%7D"
	tests := []struct{ name, contentType, body string }{
		{"not a webhook", "application/x-www-form-urlencoded", "hello=world"},
		{"unknown type", "", strings.Replace(ok, "receive_sms", "receive_mms", 1)},
		{"no random id", "", strings.Replace(ok, "webhook_random_id=1-ab&", "", 1)},
		{"timestamp not a number", "", strings.Replace(ok, "webhook_timestamp=1", "webhook_timestamp=yesterday", 1)},
		{"body not JSON", "", strings.Replace(ok, "%7B%22id%22%3A1%7D", "%7B", 1)},
		{"body an array", "", strings.Replace(ok, "%7B%22id%22%3A1%7D", "%5B%5D", 1)},
		{"body field of the wrong type", "", strings.Replace(ok, "%7B%22id%22%3A1%7D", "%7B%22id%22%3A%22one%22%7D", 1)},
		{"bad escape", "", ok + "&x=%zz"},
		{"template JSON", "application/json", `{"text":"SMS for the team"}`},
		{"JSON not an object", "application/json", `[1,2]`},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			ev, err := ParseRequest(req, []byte(tt.body))
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseRequest = %+v, %v; want ErrMalformed", ev, err)
			}
		})
	}
}

// TestParseRequestLenient covers shapes other senders produce that still
// carry the five fields.
func TestParseRequestLenient(t *testing.T) {
	tests := []struct{ name, contentType, body string }{
		{"json with body as a string", "application/json",
			`{"webhook_timestamp":"1700000000","webhook_random_id":"1-ab","webhook_type":"receive_sms","body":"{\"id\":1,\"text\":\"hi\"}"}`},
		{"json with charset", "application/json; charset=utf-8",
			`{"webhook_timestamp":1700000000,"webhook_random_id":"1-ab","webhook_type":"receive_sms","body":{"id":1,"text":"hi"}}`},
		{"form without content type", "",
			"webhook_timestamp=1700000000&webhook_random_id=1-ab&webhook_type=receive_sms&body=%7B%22id%22%3A1%2C%22text%22%3A%22hi%22%7D"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			ev, err := ParseRequest(req, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Timestamp != 1700000000 || ev.ReceiveSMS == nil || ev.ReceiveSMS.Text != "hi" || ev.ReceiveSMS.Medias == nil {
				t.Errorf("event %+v, body %+v", ev, ev.ReceiveSMS)
			}
		})
	}
}
