package modemsim

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
)

func TestFramingEchoAndErrors(t *testing.T) {
	m := Start(t, Options{})
	c := dial(t, m)
	tests := []struct {
		line string
		want []string
	}{
		{"AT", []string{"AT", "OK"}},
		{"ATE0", []string{"ATE0", "OK"}},
		{"AT+CMEE=1;+CMGF=0", []string{"OK"}},
		{"AT+CMGF?", []string{"+CMGF: 0", "OK"}},
		{"AT+NOPE", []string{"+CME ERROR: 4"}},
		{"AT+CMEE=0", []string{"OK"}},
		{"AT+NOPE", []string{"ERROR"}},
		{"AT+CMEE=2;+NOPE", []string{"+CME ERROR: operation not supported"}},
		{"at+cgsn", []string{"356938035643809", "OK"}},
		{"AT+CPIN?", []string{"+CPIN: READY", "OK"}},
		{"AT+CREG?", []string{"+CREG: 0,1", "OK"}},
	}
	for _, tt := range tests {
		if got := c.cmd(tt.line); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%s: got %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestPIN(t *testing.T) {
	m := Start(t, Options{PIN: "1234"})
	c := dial(t, m)
	c.cmd("ATE0")
	c.cmd("AT+CMEE=1")
	steps := []struct{ line, want string }{
		{"AT+CPIN?", "+CPIN: SIM PIN"},
		{"AT+CMGL=4", "+CMS ERROR: 311"},
		{`AT+CPIN="0000"`, "+CME ERROR: 16"},
		{`AT+CPIN="1234"`, "OK"},
		{"AT+CPIN?", "+CPIN: READY"},
	}
	for _, s := range steps {
		if got := c.cmd(s.line); got[0] != s.want {
			t.Errorf("%s: got %q, want %s first", s.line, got, s.want)
		}
	}
}

// decodeStored reads back what a storage holds for the given indexes.
func decodeStored(t *testing.T, m *Modem, idx []int) string {
	t.Helper()
	stored := m.Stored("SM")
	var segs []*tpdu.TPDU
	for _, i := range idx {
		p, err := pdumode.UnmarshalHexString(stored[i])
		if err != nil {
			t.Fatal(err)
		}
		d, err := sms.Unmarshal(p.TPDU)
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, d)
	}
	b, err := sms.Decode(segs)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInjectedSMSRoundTrip(t *testing.T) {
	long := strings.Repeat("0123456789", 150)
	tests := []struct {
		name  string
		sms   SMS
		parts int
	}{
		{"gsm7 extension table", SMS{From: "+33612345678", Text: `€[]{}~^|\ price`}, 1},
		{"ucs2 emoji", SMS{From: "+33612345678", Text: "On my way 🚲🚀 ok"}, 1},
		{"alphanumeric sender", SMS{From: "MyBank", Text: "code 1234"}, 1},
		{"3 parts", SMS{From: "+33612345678", Text: long[:400]}, 3},
		{"10 parts", SMS{From: "+33612345678", Text: strings.Repeat(long, 10)[:1500]}, 10},
		{"emoji across parts", SMS{From: "+33612345678", Text: strings.Repeat("🎉a", 80)}, 4},
	}
	m := Start(t, Options{Capacity: map[string]int{"SM": 100}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx, err := m.InjectSMS(tt.sms)
			if err != nil {
				t.Fatal(err)
			}
			if len(idx) != tt.parts {
				t.Fatalf("%d parts, want %d", len(idx), tt.parts)
			}
			if got := decodeStored(t, m, idx); got != tt.sms.Text {
				t.Errorf("decoded %q, want %q", got, tt.sms.Text)
			}
		})
	}
}

func TestIndicationsAndStorage(t *testing.T) {
	m := Start(t, Options{Capacity: map[string]int{"SM": 3}})
	c := dial(t, m)
	c.cmd("ATE0")
	c.cmd("AT+CMEE=1;+CMGF=0")
	c.cmd("AT+CNMI=2,1,0,2,0")
	if _, err := m.InjectSMS(SMS{From: "+33612345678", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if got := c.until(func(l string) bool { return strings.HasPrefix(l, "+CMTI") }); last(got) != `+CMTI: "SM",1` {
		t.Fatalf("indication %q", got)
	}
	got := c.cmd("AT+CMGR=1")
	if !strings.HasPrefix(got[0], "+CMGR: 0,,") || last(got) != "OK" {
		t.Fatalf("CMGR: %q", got)
	}
	if got := c.cmd("AT+CMGL=0"); len(got) != 1 {
		t.Errorf("unread after reading: %q", got)
	}
	if got := c.cmd("AT+CMGL=4"); len(got) != 3 {
		t.Errorf("CMGL=4: %q", got)
	}
	if got := c.cmd(`AT+CPMS="SM","SM","SM"`); got[0] != "+CPMS: 1,3,1,3,1,3" {
		t.Errorf("CPMS: %q", got)
	}
	m.SetStorageFull("SM", true)
	if _, err := m.InjectSMS(SMS{From: "+33612345678", Text: "lost"}); err != ErrStorageFull {
		t.Errorf("full storage accepted a message: %v", err)
	}
	if got := c.cmd("AT+CPMS?"); got[0] != `+CPMS: "SM",3,3,"SM",3,3,"SM",3,3` {
		t.Errorf("CPMS when full: %q", got)
	}
	m.SetStorageFull("SM", false)
	if got := c.cmd("AT+CMGD=1"); last(got) != "OK" || len(m.Stored("SM")) != 0 {
		t.Errorf("CMGD: %q, left %d", got, len(m.Stored("SM")))
	}
	if got := c.cmd("AT+CMGD=1"); last(got) != "+CMS ERROR: 321" {
		t.Errorf("CMGD of an empty slot: %q", got)
	}
	// +CMT routes without storing.
	c.cmd("AT+CNMI=2,2,0,0,0")
	if _, err := m.InjectSMS(SMS{From: "+33612345678", Text: "direct"}); err != nil {
		t.Fatal(err)
	}
	c.until(func(l string) bool { return strings.HasPrefix(l, "+CMT:") })
	if len(m.Stored("SM")) != 0 {
		t.Error("+CMT message was stored")
	}
}

// submitPDU encodes a one-part SMS-SUBMIT with a status-report request.
func submitPDU(t *testing.T, to, text string) string {
	t.Helper()
	tmpl, _ := tpdu.NewSubmit()
	tmpl.DA = tpdu.NewAddress(tpdu.FromNumber(to))
	tmpl.FirstOctet |= tpdu.FoSRR
	pdus, err := sms.Encode([]byte(text), sms.WithTemplate(*tmpl))
	if err != nil {
		t.Fatal(err)
	}
	b, err := pdus[0].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d|00%s", len(b), strings.ToUpper(hex.EncodeToString(b)))
}

func TestSendPromptReferencesAndReports(t *testing.T) {
	m := Start(t, Options{})
	m.SetSendRule("+33600000002", SendRule{Outcome: Failed})
	m.SetSendRule("+33600000003", SendRule{RefuseCMS: 42})
	c := dial(t, m)
	c.cmd("ATE0")
	c.cmd("AT+CMEE=1;+CMGF=0")
	c.cmd("AT+CNMI=2,1,0,2,0")
	send := func(to, text string) []string {
		lenHex := strings.SplitN(submitPDU(t, to, text), "|", 2)
		if got := c.cmd("AT+CMGS=" + lenHex[0]); last(got) != ">" {
			t.Fatalf("no prompt: %q", got)
		}
		c.send(lenHex[1] + "\x1a")
		got := c.until(func(l string) bool { return l == "OK" || strings.Contains(l, "ERROR") })
		// A report of an earlier send may come amid the answer.
		return slices.DeleteFunc(got, func(l string) bool { return strings.HasPrefix(l, "+CDSI:") })
	}
	if got := send("+33600000001", "one"); got[0] != "+CMGS: 0" {
		t.Fatalf("first send: %q", got)
	}
	if got := send("+33600000002", "two"); got[0] != "+CMGS: 1" {
		t.Fatalf("second send: %q", got)
	}
	if got := send("+33600000003", "refused"); last(got) != "+CMS ERROR: 42" {
		t.Fatalf("refused send: %q", got)
	}
	// ESC cancels.
	if got := c.cmd("AT+CMGS=10"); last(got) != ">" {
		t.Fatal(got)
	}
	c.send("0011\x1b")
	c.until(func(l string) bool { return l == "OK" })
	deadline := time.Now().Add(5 * time.Second)
	for len(m.Stored("SM")) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(m.Stored("SM")) != 2 {
		t.Fatalf("stored reports: %d", len(m.Stored("SM")))
	}
	sts := map[int]byte{}
	for _, h := range m.Stored("SM") {
		p, _ := pdumode.UnmarshalHexString(h)
		r, err := sms.Unmarshal(p.TPDU)
		if err != nil || r.SmsType() != tpdu.SmsStatusReport {
			t.Fatalf("stored report: %v %v", err, r)
		}
		sts[int(r.MR)] = r.ST
	}
	if sts[0] != 0x00 || sts[1] != 0x41 {
		t.Errorf("report statuses by reference: %v", sts)
	}
	sent := m.SentMessages()
	if len(sent) != 2 || sent[0].Text != "one" || sent[1].To != "+33600000002" {
		t.Errorf("sent: %+v", sent)
	}
}

func TestCallsAndClipGating(t *testing.T) {
	m := Start(t, Options{RingInterval: 100 * time.Millisecond})
	c := dial(t, m)
	c.cmd("ATE0")
	call := m.InjectCall("+33698765432")
	c.until(func(l string) bool { return l == "RING" })
	c.until(func(l string) bool { return l == "RING" })
	c.cmd("AT+CLIP=1")
	c.until(func(l string) bool { return strings.HasPrefix(l, "+CLIP: \"+33698765432\",145") })
	if got := c.cmd("AT+CLCC"); !strings.HasPrefix(got[0], "+CLCC: 1,1,4") {
		t.Errorf("CLCC while ringing: %q", got)
	}
	c.cmd("ATH")
	if !call.RejectedByClient() || !call.Ended() {
		t.Error("ATH did not reject the call")
	}
	if got := c.cmd("AT+CLCC"); len(got) != 1 {
		t.Errorf("CLCC after hang-up: %q", got)
	}
	withheld := m.InjectCall("")
	c.until(func(l string) bool { return l == `+CLIP: "",128,,,,1` })
	withheld.Hangup()
	c.until(func(l string) bool { return l == "NO CARRIER" })
}

func TestUnplugAndReplug(t *testing.T) {
	link := filepath.Join(t.TempDir(), "by-id", "usb-sim-if00")
	m := Start(t, Options{Link: link, Profile: Quectel})
	c := dial(t, m)
	c.cmd("AT")
	if _, err := m.InjectSMS(SMS{From: "+33612345678", Text: "kept on the SIM"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Unplug(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Errorf("link still there after unplug: %v", err)
	}
	buf := make([]byte, 16)
	if _, err := c.port.Read(buf); err == nil {
		t.Error("a read on an unplugged modem succeeded")
	}
	if err := m.Replug(); err != nil {
		t.Fatal(err)
	}
	c2 := dial(t, m)
	if got := c2.until(func(l string) bool { return l == "+QIND: SMS DONE" }); got[0] != "RDY" {
		t.Errorf("banner %q", got)
	}
	if got := c2.cmd("AT+CMGF=0;+CMGL=4"); len(got) != 4 { // echo is back on after a power cycle
		t.Errorf("the SIM lost its message across a replug: %q", got)
	}
}

func TestFaults(t *testing.T) {
	m := Start(t, Options{})
	c := dial(t, m)
	c.cmd("ATE0")
	m.ErrorStorm(3)
	for range 3 {
		if got := c.cmd("AT"); last(got) != "ERROR" {
			t.Fatalf("storm: %q", got)
		}
	}
	if got := c.cmd("AT"); last(got) != "OK" {
		t.Fatalf("after the storm: %q", got)
	}
	m.Garbage([]byte{0xff, 0x00, 'x'})
	m.JunkLine("^RSSI:99")
	c.until(func(l string) bool { return l == "^RSSI:99" })
	m.Hang(300 * time.Millisecond)
	c.send("AT\r")
	time.Sleep(400 * time.Millisecond)
	if got := c.cmd("AT"); last(got) != "OK" || len(got) != 1 {
		t.Fatalf("after the hang: %q (the hung command must get no answer)", got)
	}
	m.SetReplyDelay(200 * time.Millisecond)
	start := time.Now()
	c.cmd("AT")
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("reply after %s with a 200ms delay", d)
	}
	if cmds := m.Commands(); cmds[0] != "E0" {
		t.Errorf("commands %q", cmds)
	}
}
