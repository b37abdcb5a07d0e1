package agent_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
)

// TestUSSDEndToEnd asks the simulated network USSD codes over the API:
// answers in GSM 7-bit text, packed GSM 7-bit and UCS-2 come back decoded;
// silence, an unsupported code, a bad code and an unknown phone give clear
// errors. The configured balance check runs once the phone is up and its
// value shows in /metrics and the phone list.
func TestUSSDEndToEnd(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{Stopped: true,
		PhoneYAML: `balance: {code: "*100#", every: 24h, pattern: "([0-9]+[.,][0-9]+) EUR"}`})
	m := l.Modems[0]
	m.SetUSSD("*100#", modemsim.USSDAnswer{Text: "Solde : 12,50 EUR, valable jusqu'au 31/12", Encoding: "ucs2"})
	m.SetUSSD("*101#", modemsim.USSDAnswer{Text: "Your balance is 3.20 EUR", Encoding: "gsm7"})
	m.SetUSSD("*102#", modemsim.USSDAnswer{Text: "Остаток: 99 руб. €", Encoding: "ucs2"})
	m.SetUSSD("*103#", modemsim.USSDAnswer{Text: "Balance 4.00 EUR", Encoding: "gsm7-packed"})
	m.SetUSSD("*109#", modemsim.USSDAnswer{Silent: true})
	ctx := testContext(t, 60*time.Second)
	if err := l.StartAgent(ctx); err != nil {
		t.Fatal(err)
	}
	a := mustAgent(t, l)
	c := socketClient(l.SocketPath())
	tests := []struct {
		body     string
		code     int
		text     string // the answer's text, or what the error says
		wantJSON bool
	}{
		{`{"phone": 1, "code": "*101#"}`, 200, "Your balance is 3.20 EUR", true},
		{`{"phone": 1, "code": "*102#"}`, 200, "Остаток: 99 руб. €", true},
		{`{"phone": 1, "code": "*103#"}`, 200, "Balance 4.00 EUR", true},
		{`{"phone": 1, "code": "*109#", "timeout": "2s"}`, 504, "no answer from the network", false},
		{`{"phone": 1, "code": "*999#"}`, 502, "does not support this request", false},
		{`{"phone": 1, "code": "*100#;ATD123"}`, 400, "not a USSD code", false},
		{`{"phone": 7, "code": "*100#"}`, 404, "unknown phone", false},
		{`{"code": "*100#"}`, 400, "phone", false},
	}
	for _, tt := range tests {
		code, body := call(t, c, "POST", "/v1/ussd", tt.body)
		if code != tt.code {
			t.Errorf("%s: %d %s, want %d", tt.body, code, body, tt.code)
			continue
		}
		if !tt.wantJSON {
			if !strings.Contains(body, tt.text) {
				t.Errorf("%s: %s, want an error saying %q", tt.body, body, tt.text)
			}
			continue
		}
		var res agent.USSDResult
		if err := json.Unmarshal([]byte(body), &res); err != nil || res.Text != tt.text || res.Phone != 1 {
			t.Errorf("%s: %s (%v), want text %q", tt.body, body, err, tt.text)
		}
	}
	// The balance check ran when the phone came up.
	waitUntil(t, 20*time.Second, "the balance gauge", func() bool {
		_, metrics := call(t, c, "GET", "/metrics", "")
		return strings.Contains(metrics, `simhook_phone_balance{phone="1"} 12.5`+"\n")
	})
	p := a.Phones()[0]
	if p.Balance == nil || p.Balance.Code != "*100#" || !strings.HasPrefix(p.Balance.Text, "Solde : 12,50 EUR") || p.Balance.Error != "" {
		t.Errorf("phone ls balance = %+v, want the *100# answer", p.Balance)
	}
	if got := a.Counter("ussd_requests"); got < 4 {
		t.Errorf("ussd_requests = %d, want at least 4", got)
	}
	// The network was never left with an open session.
	if m.USSDSessionOpen() {
		t.Error("a USSD session is still open")
	}
}
