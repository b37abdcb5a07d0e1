package modemsim

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestUSSD asks the simulated network for configured and unknown codes and
// checks what comes back on the line, in order: the OK of AT+CUSD=1 and the
// +CUSD answer (or the answer first, or nothing), then the answers of the
// commands that follow.
func TestUSSD(t *testing.T) {
	m := Start(t, Options{})
	m.SetUSSD("*100#", USSDAnswer{Text: "Your balance is 12.50 EUR"})
	m.SetUSSD("*101#", USSDAnswer{Text: "Your balance is 12.50 EUR", Encoding: "gsm7-packed"})
	m.SetUSSD("*102#", USSDAnswer{Text: "Ваш баланс: 12,50 €", Encoding: "ucs2"})
	m.SetUSSD("*103#", USSDAnswer{Text: "Your balance is 12.50 EUR", BeforeOK: true})
	m.SetUSSD("*104#", USSDAnswer{Text: "1. Balance\n2. Data", Status: 1})
	m.SetUSSD("*105#", USSDAnswer{Silent: true})
	m.SetUSSD("*106#", USSDAnswer{Status: 2})
	c := dial(t, m)
	c.cmd("ATE0")
	c.cmd("AT+CMEE=1")
	tests := []struct {
		line string
		want []string // every line up to the answer of the AT+CGMI that follows
	}{
		{`AT+CUSD=1,"*100#",15`, []string{"OK", `+CUSD: 0,"Your balance is 12.50 EUR",15`}},
		{`AT+CUSD=1,"*101#",15`, []string{"OK", `+CUSD: 0,"D9775D0E1287D961F7B80C4ACF413199AB060315AB52",15`}},
		{`AT+CUSD=1,"*102#",15`, []string{"OK", `+CUSD: 0,"041204300448002004310430043B0430043D0441003A002000310032002C00350030002020AC",72`}},
		{`AT+CUSD=1,"*103#",15`, []string{`+CUSD: 0,"Your balance is 12.50 EUR",15`, "OK"}},
		{`AT+CUSD=1,"*104#"`, []string{"OK", `+CUSD: 1,"1. Balance`, `2. Data",15`}},
		{`AT+CUSD=2`, []string{"OK"}},
		{`AT+CUSD=1,"*105#",15`, []string{"OK"}},
		{`AT+CUSD=1,"*106#",15`, []string{"OK", "+CUSD: 2"}},
		{`AT+CUSD=1,"*999#",15`, []string{"OK", "+CUSD: 4"}},
		{`AT+CUSD=1,"",15`, []string{"+CME ERROR: 50"}},
		{`AT+CUSD=7`, []string{"+CME ERROR: 50"}},
		{`AT+CUSD?`, []string{"+CUSD: 1", "OK"}},
		{`AT+CUSD=?`, []string{"+CUSD: (0-2)", "OK"}},
		{`AT+CUSD=0`, []string{"OK"}},
		{`AT+CUSD?`, []string{"+CUSD: 0", "OK"}},
	}
	for _, tt := range tests {
		c.send(tt.line + "\r")
		// AT+CGMI after each command proves that nothing more came for
		// it: its answer would have come before.
		c.send("AT+CGMI\r")
		got := c.until(func(l string) bool { return l == "SIMHOOK" })
		got = got[:len(got)-1]
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%s: got %q, want %q", tt.line, got, tt.want)
		}
		if l := c.until(func(string) bool { return true }); l[0] != "OK" {
			t.Errorf("%s: AT+CGMI ended with %q", tt.line, l)
		}
	}
	cmds := m.Commands()
	if !slices.Contains(cmds, "+CUSD=2") || !slices.Contains(cmds, `+CUSD=1,"*100#",15`) {
		t.Errorf("commands %q, want the USSD ones", cmds)
	}
}

// TestUSSDDelayAndNetworkInitiated: a delayed answer comes after the
// answers of commands sent meanwhile; InjectUSSD writes a +CUSD nobody asked
// for; a SIM still locked refuses USSD.
func TestUSSDDelayAndNetworkInitiated(t *testing.T) {
	m := Start(t, Options{PIN: "1234"})
	m.SetUSSD("*100#", USSDAnswer{Text: "Later", Delay: 50 * time.Millisecond})
	c := dial(t, m)
	c.cmd("ATE0")
	c.cmd("AT+CMEE=1")
	if got := c.cmd(`AT+CUSD=1,"*100#",15`); last(got) != "+CME ERROR: 11" {
		t.Errorf("locked SIM: %q", got)
	}
	c.cmd(`AT+CPIN="1234"`)
	if got := c.cmd(`AT+CUSD=1,"*100#",15`); strings.Join(got, "|") != "OK" {
		t.Errorf("delayed: %q", got)
	}
	if got := c.cmd("AT+CSQ"); strings.Join(got, "|") != "+CSQ: 20,99|OK" {
		t.Errorf("+CSQ meanwhile: %q", got)
	}
	if got := c.until(func(string) bool { return true }); got[0] != `+CUSD: 0,"Later",15` {
		t.Errorf("delayed answer %q", got)
	}
	m.InjectUSSD(USSDAnswer{Text: "Promo: 1 GB for 1 EUR", Status: 1})
	if got := c.until(func(string) bool { return true }); got[0] != `+CUSD: 1,"Promo: 1 GB for 1 EUR",15` {
		t.Errorf("network-initiated %q", got)
	}
}
