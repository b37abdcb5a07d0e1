package webhook

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// FuzzParseRequest feeds arbitrary methods, content types and bodies to
// ParseRequest (seed corpus in testdata/fuzz/FuzzParseRequest): it must never
// panic, an accepted request has a known type, a random id and exactly the
// typed body of its type, and its body is valid JSON.
func FuzzParseRequest(f *testing.F) {
	f.Add(false, "application/x-www-form-urlencoded", []byte("webhook_timestamp=1&webhook_random_id=x&webhook_type=receive_sms&body=%7B%7D"))
	f.Add(false, "application/json", []byte(`{"webhook_timestamp":1,"webhook_random_id":"x","webhook_type":"send_sms","body":{"id":1}}`))
	f.Add(true, "", []byte("webhook_timestamp=1&webhook_random_id=x&webhook_type=inbound_call&body=%7B%22end%22%3Anull%7D"))
	f.Add(false, "", []byte("{"))
	f.Fuzz(func(t *testing.T, get bool, ct string, data []byte) {
		var req *http.Request
		var err error
		if get {
			req, err = http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
			if err == nil {
				req.URL.RawQuery = string(data)
			}
		} else {
			req, err = http.NewRequest(http.MethodPost, "http://127.0.0.1/", bytes.NewReader(data))
		}
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", ct)
		body := data
		if get {
			body = nil
		}
		ev, err := ParseRequest(req, body)
		if err != nil {
			return
		}
		if !ev.Type.Valid() || ev.RandomID == "" {
			t.Fatalf("accepted type %q id %q", ev.Type, ev.RandomID)
		}
		if typedBody(ev) == nil {
			t.Fatalf("no typed body for %s", ev.Type)
		}
	})
}

// FuzzVerifyStandard checks, with arbitrary ids, timestamps, signature
// headers and bodies (seed corpus in testdata/fuzz/FuzzVerifyStandard), that
// VerifyStandard never panics, that a header not made with the secret never
// verifies, and that one made with it verifies until the body changes.
func FuzzVerifyStandard(f *testing.F) {
	f.Add("1-00", "1700000000", "v1,AAAA", []byte("body"))
	f.Add("", "", "", []byte{})
	f.Add("id", "x", "v1,", []byte("{}"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		const secret = "fuzz-secret"
		now := time.Unix(1700000000, 0)
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		if VerifyStandard([]string{secret}, h, body, now, time.Hour) == nil {
			t.Fatalf("forged signature verified: %q %q %q", id, ts, sig)
		}
		if id == "" || len(id) > 1000 {
			return
		}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		h.Set(HeaderSignature, StandardSignature([]byte(secret), id, now.Unix(), body))
		if h.Get(HeaderID) != id {
			return // not representable in a header
		}
		if err := VerifyStandard([]string{"other", secret}, h, body, now, time.Hour); err != nil {
			t.Fatalf("genuine signature refused: %v", err)
		}
		changed := append(append([]byte(nil), body...), 'x')
		if VerifyStandard([]string{secret}, h, changed, now, time.Hour) == nil {
			t.Fatal("changed body verified")
		}
	})
}
