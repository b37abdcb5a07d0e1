package modemsim

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/simhook/simhook/internal/clock"
	"github.com/warthog618/sms/encoding/gsm7"
)

// USSDAnswer is how the simulated network answers a USSD code.
type USSDAnswer struct {
	// Text is the answer, in UTF-8.
	Text string
	// Encoding is how the modem prints Text: "gsm7" (the default) as
	// text with dcs 15, "gsm7-packed" as hex of packed 7-bit septets with
	// dcs 15 (as Huawei modems do), "ucs2" as hex of UCS-2 with dcs 72.
	Encoding string
	// Status is the +CUSD <m>: 0 done, 1 further action required, 2
	// terminated by the network, 4 not supported, 5 network timeout.
	Status int
	// Silent: the network never answers (the client's timeout).
	Silent bool
	// BeforeOK puts the +CUSD answer before the OK of AT+CUSD=1, as some
	// modems do, instead of after it.
	BeforeOK bool
	// Delay is how long after the OK the answer comes, on the modem's
	// Clock (ignored with BeforeOK).
	Delay time.Duration
}

// delayedURC is an unsolicited line written once the answer of the
// command in flight is out, after delay.
type delayedURC struct {
	line  string
	delay time.Duration
}

// SetUSSD sets the network's answer to code (such as "*100#"). A code
// without an answer is answered "+CUSD: 4" (not supported).
func (m *Modem) SetUSSD(code string, a USSDAnswer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ussd[code] = a
}

// InjectUSSD writes a +CUSD the network sends without being asked.
func (m *Modem) InjectUSSD(a USSDAnswer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a.Status == 1 {
		m.ussdOpen = true
	}
	m.urcLocked(a.line())
}

// line renders the answer as the modem prints it.
func (a USSDAnswer) line() string {
	if a.Text == "" {
		return fmt.Sprintf("+CUSD: %d", a.Status)
	}
	str, dcs := a.Text, 15
	switch a.Encoding {
	case "gsm7-packed":
		septets, err := gsm7.Encode([]byte(a.Text))
		if err != nil {
			// Not in the GSM alphabet: what a network would send instead.
			return a.ucs2Line()
		}
		str = strings.ToUpper(hex.EncodeToString(gsm7.Pack7BitUSSD(septets, 0)))
	case "ucs2":
		return a.ucs2Line()
	}
	return fmt.Sprintf("+CUSD: %d,\"%s\",%d", a.Status, str, dcs)
}

// ucs2Line renders the answer in UCS-2 (UTF-16 big-endian, in hex).
func (a USSDAnswer) ucs2Line() string {
	var b []byte
	for _, u := range utf16.Encode([]rune(a.Text)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return fmt.Sprintf("+CUSD: %d,\"%s\",72", a.Status, strings.ToUpper(hex.EncodeToString(b)))
}

// cusdLocked answers +CUSD: AT+CUSD=<n>[,<str>[,<dcs>]], AT+CUSD? and
// AT+CUSD=?.
func (m *Modem) cusdLocked(rest string) result {
	switch rest {
	case "", "=":
		return ok()
	case "?":
		return ok(fmt.Sprintf("+CUSD: %d", m.cusdN))
	case "=?":
		return ok("+CUSD: (0-2)")
	}
	if !strings.HasPrefix(rest, "=") {
		return m.cmeError(50, "incorrect parameters")
	}
	a := args(rest[1:])
	n := atoi(a[0], -1)
	switch {
	case n == 2:
		m.ussdOpen = false
		return ok()
	case n != 0 && n != 1:
		return m.cmeError(50, "incorrect parameters")
	}
	m.cusdN = n
	if len(a) < 2 {
		return ok()
	}
	code := a[1]
	if code == "" {
		return m.cmeError(50, "incorrect parameters")
	}
	if !m.pinOK {
		return m.cmeError(11, "SIM PIN required")
	}
	ans, known := m.ussd[code]
	if !known {
		ans = USSDAnswer{Status: 4}
	}
	if ans.Silent || n == 0 {
		return ok()
	}
	m.ussdOpen = ans.Status == 1
	if ans.BeforeOK {
		return ok(ans.line())
	}
	m.after = append(m.after, delayedURC{line: ans.line(), delay: ans.Delay})
	return ok()
}

// writeAfterLocked writes the unsolicited lines due once a command's answer
// is out: at once, or after their delay from a goroutine of their own.
func (m *Modem) writeAfterLocked() {
	after := m.after
	m.after = nil
	for _, u := range after {
		if u.delay <= 0 {
			m.urcLocked(u.line)
			continue
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			if !clock.Sleep(m.opts.Clock, u.delay, m.stop) {
				return
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			m.urcLocked(u.line)
		}()
	}
}

// USSDSessionOpen reports whether a USSD session waits for the client: an
// answer asked for further action (m=1) and no AT+CUSD=2 closed it since.
func (m *Modem) USSDSessionOpen() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ussdOpen
}
