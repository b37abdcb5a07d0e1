package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/webhook"
)

// socketClient talks HTTP over the lab agent's unix socket.
func socketClient(path string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

// call makes one API request and returns the status and body.
func call(t *testing.T, c *http.Client, method, path, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://simhook"+path, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// TestLocalAPIEndToEnd exercises the API over its unix socket: health,
// phones, a send and its status, refusals, outbox stats and metrics.
func TestLocalAPIEndToEnd(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{})
	c := socketClient(l.SocketPath())
	ctx := testContext(t, 30*time.Second)
	if _, err := l.Modems[0].InjectSMS(modemsim.SMS{From: "+33612345678", Text: "for the metrics"}); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitEvents(ctx, webhook.ReceiveSMS, 1); err != nil {
		t.Fatal(err)
	}

	if code, body := call(t, c, "GET", "/healthz", ""); code != 200 || !strings.Contains(body, `"status": "ok"`) {
		t.Errorf("healthz: %d %s", code, body)
	}
	code, body := call(t, c, "GET", "/v1/phones", "")
	var phones []struct {
		ID     int
		Status string
	}
	if code != 200 || json.Unmarshal([]byte(body), &phones) != nil || len(phones) != 1 || phones[0].Status != "up" {
		t.Errorf("phones: %d %s", code, body)
	}

	code, body = call(t, c, "POST", "/v1/sms", `{"to":"+33612345678","text":"via the API","tag":"api"}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST /v1/sms: %d %s", code, body)
	}
	var st struct{ ID uint64 }
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.ID == 0 {
		t.Fatalf("POST /v1/sms answer %s: %v", body, err)
	}
	if err := l.WaitEvents(ctx, webhook.SendSMSStatusChange, 1); err != nil {
		t.Fatal(err)
	}
	code, body = call(t, c, "GET", "/v1/sms/"+itoa(st.ID), "")
	if code != 200 || !strings.Contains(body, `"delivered"`) {
		t.Errorf("GET /v1/sms/%d: %d %s", st.ID, code, body)
	}

	refusals := []struct{ method, path, body string }{
		{"POST", "/v1/sms", `{"to":"+33612345678"}`},
		{"POST", "/v1/sms", `{"to":"nope","text":"x"}`},
		{"POST", "/v1/sms", `{"to":"+33612345678","text":"x","colour":"red"}`},
		{"POST", "/v1/sms", `not json`},
		{"GET", "/v1/sms/abc", ""},
	}
	for _, r := range refusals {
		if code, body := call(t, c, r.method, r.path, r.body); code != http.StatusBadRequest || !strings.Contains(body, "error") {
			t.Errorf("%s %s %s: %d %s, want 400 with an error", r.method, r.path, r.body, code, body)
		}
	}
	if code, _ := call(t, c, "GET", "/v1/sms/999999", ""); code != http.StatusNotFound {
		t.Errorf("unknown send: %d, want 404", code)
	}

	if code, body := call(t, c, "GET", "/v1/outbox/stats", ""); code != 200 || !strings.Contains(body, "lab") {
		t.Errorf("outbox stats: %d %s", code, body)
	}
	code, body = call(t, c, "GET", "/metrics", "")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	for _, want := range []string{
		`simhook_phone_up{phone="1"} 1`,
		`simhook_events_total{type="receive_sms"} 1`,
		`simhook_config_reloads_total 0`,
		`simhook_config_errors_total 0`,
		`simhook_outbox_pending{endpoint="lab"}`,
		`simhook_outbox_oldest_pending_seconds{endpoint="lab"}`,
		`simhook_deliveries_total{endpoint="lab",outcome="delivered"}`,
		`simhook_phone_signal_rssi{phone="1"}`,
		`simhook_phone_reconnects_total{phone="1"}`,
	} {
		if !bytes.Contains([]byte(body), []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func itoa(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
