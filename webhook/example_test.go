package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/simhook/simhook/webhook"
)

// A receiver verifies both signatures, drops duplicates and gets a typed
// event; here the request comes from the package's own encoder, as simhook
// would send it.
func ExampleVerifier_Middleware() {
	v := &webhook.Verifier{Secrets: []string{"s3cret"}}
	srv := httptest.NewServer(v.Middleware(func(w http.ResponseWriter, r *http.Request, ev *webhook.Event) {
		fmt.Printf("%s from %s: %s\n", ev.Type, ev.ReceiveSMS.Origin, ev.ReceiveSMS.Text)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	enc, _ := webhook.NewEncoder(webhook.Endpoint{URL: srv.URL, Secrets: []string{"s3cret"}})
	now := time.Now()
	id, _ := webhook.NewRandomID(now.Unix())
	msg := webhook.Message{Type: webhook.ReceiveSMS, Timestamp: now.Unix(), RandomID: id,
		Body: []byte(`{"id":1,"at":"2026-11-22 10:00:00","text":"Hello","destination":1,"origin":"+33612345678","command":false,"mms":false,"medias":[]}`)}
	for range 2 { // the second is a retry of the same event
		req, _ := enc.NewRequest(context.Background(), msg, time.Now())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Println(strings.TrimSpace(fmt.Sprint(resp.StatusCode, " ", resp.Header.Get(webhook.DuplicateHeader))))
	}
	// Output:
	// receive_sms from +33612345678: Hello
	// 204
	// 200 1
}

// The legacy signature of SPEC §2's test vector.
func ExampleLegacySignature() {
	fmt.Println(webhook.LegacySignature("0123456789abcdef0123456789abcdef", "1700000000-abababababababababababababababab"))
	// Output: 5ad99f737c4c2487cf244480463ea9a72e1b68d471ae25e52fc497cb4ad832e2
}

// How the agent builds the request of one delivery attempt, and how a
// receiver with its own plumbing checks the Standard Webhooks signature.
func ExampleEncoder_NewRequest() {
	enc, err := webhook.NewEncoder(webhook.Endpoint{
		Name:       "crm",
		URL:        "https://crm.example.com/sms",
		Format:     "json",
		CustomData: map[string]string{"site": "paris"},
		Secrets:    []string{"s3cret"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	happened := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	body, _ := json.Marshal(webhook.StatusChangeBody{ID: 7, Status: "delivered", IDPhone: 1})
	msg := webhook.Message{Type: webhook.SendSMSStatusChange, Timestamp: happened.Unix(),
		RandomID: "1795341600-0123456789abcdef0123456789abcdef", Body: body}

	attempt := happened.Add(90 * time.Second) // a retry: the header timestamp is the attempt's
	req, err := enc.NewRequest(context.Background(), msg, attempt)
	if err != nil {
		fmt.Println(err)
		return
	}
	sent, _ := io.ReadAll(req.Body)
	fmt.Println(req.Method, req.Header.Get("Content-Type"))
	fmt.Println(string(sent))
	fmt.Println(req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"))

	// On the receiving side, one minute later:
	err = webhook.VerifyStandard([]string{"s3cret"}, req.Header, sent, attempt.Add(time.Minute), webhook.DefaultTolerance)
	fmt.Println("verified:", err == nil)
	err = webhook.VerifyStandard([]string{"s3cret"}, req.Header, sent, attempt.Add(time.Hour), webhook.DefaultTolerance)
	fmt.Println("an hour later:", errors.Is(err, webhook.ErrTimestampTooOld))
	// Output:
	// POST application/json
	// {"webhook_timestamp":1795341600,"webhook_random_id":"1795341600-0123456789abcdef0123456789abcdef","webhook_signature":"c644d243e24b022eea56b334c32cfa214958213cc605e72ec78ca0454c0369aa","webhook_type":"send_sms_status_change","body":{"id":7,"status":"delivered","id_phone":1},"site":"paris"}
	// 1795341600-0123456789abcdef0123456789abcdef 1795341690
	// verified: true
	// an hour later: true
}

// A template endpoint renders the whole body, here a chat message; json
// and jsonEscape keep it valid JSON whatever the SMS says.
func ExampleEndpoint_template() {
	enc, _ := webhook.NewEncoder(webhook.Endpoint{
		URL:      "https://chat.example.com/hooks/abc",
		Format:   "template",
		Template: `{"text":"SMS from {{jsonEscape .Body.origin}}: {{jsonEscape .Body.text}}"}`,
		Secrets:  []string{"s3cret"},
	})
	body, _ := json.Marshal(webhook.ReceiveSMSBody{ID: 1, At: "2026-11-22 10:00:00", Text: `Say "hi" & go`, Destination: 1, Origin: "+33612345678"})
	req, _ := enc.NewRequest(context.Background(), webhook.Message{Type: webhook.ReceiveSMS, Timestamp: 1795341600,
		RandomID: "1795341600-0123456789abcdef0123456789abcdef", Body: body}, time.Unix(1795341600, 0))
	sent, _ := io.ReadAll(req.Body)
	fmt.Println(string(sent))
	// Output: {"text":"SMS from +33612345678: Say \"hi\" & go"}
}
