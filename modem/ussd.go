package modem

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/warthog618/sms/encoding/gsm7"
)

// USSDReply is the network's answer to a USSD request.
type USSDReply struct {
	// Status is the +CUSD <m>: 0 no further action, 1 further action
	// required, 2 terminated by network, 3 other client responded, 4 not
	// supported, 5 network timeout.
	Status int
	// Text is the answer, decoded to UTF-8.
	Text string
	// DCS is the data coding scheme the network gave (-1 when absent).
	DCS int
}

// DefaultUSSDTimeout is how long USSD waits for the network's answer when
// no timeout is given.
const DefaultUSSDTimeout = 30 * time.Second

var (
	// ErrUSSD: the network refused or ended a USSD request (+CUSD: 2, 4
	// or 5, or an answer without text), or the modem refused the request
	// (ERROR or +CME ERROR to AT+CUSD). The error's text says which.
	ErrUSSD = errors.New("modem: USSD")
	// ErrUSSDTimeout: the network did not answer a USSD request in time;
	// the session was cancelled (AT+CUSD=2). It is also an ErrTimeout.
	ErrUSSDTimeout error = ussdTimeout{}
)

// ussdTimeout is ErrUSSDTimeout: a value of its own that also matches
// ErrTimeout.
type ussdTimeout struct{}

func (ussdTimeout) Error() string        { return "modem: USSD: no answer from the network" }
func (ussdTimeout) Is(target error) bool { return target == ErrTimeout }

var ussdCodeRE = regexp.MustCompile(`^[0-9*#]{1,160}$`)

// ValidUSSDCode checks a USSD code: 1 to 160 characters, each a digit, *
// or #.
func ValidUSSDCode(code string) error {
	if !ussdCodeRE.MatchString(code) {
		return fmt.Errorf("modem: %q is not a USSD code (1 to 160 digits, * and #)", code)
	}
	return nil
}

// USSD sends code (such as "*100#") and waits up to timeout (0 means
// DefaultUSSDTimeout) for the network's +CUSD answer. The timeout runs from
// the modem's OK to the request; the request itself, like every command,
// waits its turn behind the phone's other commands and is bounded by
// Config.CommandTimeout. One USSD session runs at a time on a phone; other
// commands (sends, reads, probes) go on while it waits for the network.
//
// When the answer asks for further action (m=1) the session is closed
// (AT+CUSD=2) after reading it, so the network is not left waiting; when
// no answer comes in time the session is cancelled the same way and the
// error is ErrUSSDTimeout. An answer that is a refusal (m=4 or 5, or no
// text) is an ErrUSSD, returned with the reply as far as it was read; an
// answer that ends the session (m=2) with a text is a reply (Status 2).
func (p *Phone) USSD(ctx context.Context, code string, timeout time.Duration) (USSDReply, error) {
	none := USSDReply{DCS: -1}
	if err := ValidUSSDCode(code); err != nil {
		return none, err
	}
	if timeout <= 0 {
		timeout = DefaultUSSDTimeout
	}
	eng := p.engine()
	if eng == nil {
		return none, ErrNotReady
	}
	p.ussdMu.Lock()
	defer p.ussdMu.Unlock()
	if err := ctx.Err(); err != nil {
		return none, fmt.Errorf("modem: USSD %s: %w", code, err)
	}
	answers, done := eng.awaitUSSD()
	defer done()
	// The code is sent as text: the driver sets no character set, and
	// digits, * and # read the same in every one a modem starts with.
	lines, err := p.cmd(ctx, eng, `+CUSD=1,"`+code+`",15`)
	p.countJunk(len(lines))
	if err != nil {
		if unanswered(err) {
			// The request may have reached the network.
			p.cancelUSSD(ctx, eng)
			return none, fmt.Errorf("modem: USSD %s: %w", code, err)
		}
		return none, fmt.Errorf("%w: the modem refused %s (%w)", ErrUSSD, code, err)
	}
	wait := p.cfg.Clock.NewTimer(timeout)
	defer wait.Stop()
	select {
	case line := <-answers:
		return p.ussdAnswer(ctx, eng, line)
	case <-wait.C():
		p.cancelUSSD(ctx, eng)
		return none, fmt.Errorf("%w to %s within %v", ErrUSSDTimeout, code, timeout)
	case <-eng.dead:
		return none, fmt.Errorf("modem: USSD %s: %w", code, ErrClosed)
	case <-ctx.Done():
		p.cancelUSSD(ctx, eng)
		return none, fmt.Errorf("modem: USSD %s: %w", code, ctx.Err())
	}
}

// ussdAnswer reads the network's answer, and closes the session when it
// asks for further action.
func (p *Phone) ussdAnswer(ctx context.Context, eng *engine, line string) (USSDReply, error) {
	c, ok := parseCUSD(line)
	if !ok {
		return USSDReply{DCS: -1}, fmt.Errorf("%w: unreadable answer %q", ErrUSSD, line)
	}
	r := USSDReply{Status: c.m, DCS: c.dcs}
	if c.hasStr {
		r.Text = decodeUSSD(c.str, c.dcs)
	}
	if c.m == 1 {
		p.cancelUSSD(ctx, eng)
	}
	said := ""
	if r.Text != "" {
		said = fmt.Sprintf(": %q", r.Text)
	}
	switch c.m {
	case 0, 1, 3:
		if r.Text == "" {
			return r, fmt.Errorf("%w: the network answered without text (+CUSD: %d)", ErrUSSD, c.m)
		}
		return r, nil
	case 2:
		// Many networks give their final answer (a balance) as "ended by
		// the network" with its text: the text is the answer.
		if r.Text != "" {
			return r, nil
		}
		return r, fmt.Errorf("%w: the network ended the session without an answer (+CUSD: 2)", ErrUSSD)
	case 4:
		return r, fmt.Errorf("%w: the network does not support this request (+CUSD: 4)%s", ErrUSSD, said)
	case 5:
		return r, fmt.Errorf("%w: the network timed out (+CUSD: 5)%s", ErrUSSD, said)
	}
	return r, fmt.Errorf("%w: unexpected answer (+CUSD: %d)%s", ErrUSSD, c.m, said)
}

// cancelUSSD ends the USSD session (AT+CUSD=2), even when ctx has ended, so
// that the network is not left waiting; a failure is logged.
func (p *Phone) cancelUSSD(ctx context.Context, eng *engine) {
	if _, err := p.cmd(context.WithoutCancel(ctx), eng, "+CUSD=2"); err != nil {
		p.log.Warn("could not close the USSD session (AT+CUSD=2)", "phone", p.cfg.ID, "err", err)
	}
}

// ussdUnasked logs a +CUSD nobody waited for: a USSD the network started,
// or an answer that came after its request was given up.
func (p *Phone) ussdUnasked(line string) {
	c, ok := parseCUSD(line)
	if !ok {
		p.log.Info("unreadable USSD from the network, nobody waiting; ignored", "phone", p.cfg.ID, "line", line)
		return
	}
	p.log.Info("USSD from the network, nobody waiting; ignored", "phone", p.cfg.ID,
		"status", c.m, "dcs", c.dcs, "text", decodeUSSD(c.str, c.dcs))
}

// cusdAnswer is a parsed +CUSD line: +CUSD: <m>[,<str>[,<dcs>]].
type cusdAnswer struct {
	m      int
	str    string
	hasStr bool
	dcs    int // -1 when absent
}

// cusdTail is the end of a +CUSD answer's quoted string: the closing
// quote, then the dcs if any. The string is whatever comes before the
// last quote so followed, quotes included.
var cusdTail = regexp.MustCompile(`(?s)^(.*)"\s*(?:,\s*([0-9]{1,3})\s*)?$`)

// parseCUSD reads a +CUSD line, also one whose string spans several lines
// (joined with "\n"). It is lenient about spaces, quotes inside the text and
// a string without quotes.
func parseCUSD(line string) (cusdAnswer, bool) {
	rest, ok := strings.CutPrefix(line, "+CUSD:")
	if !ok {
		return cusdAnswer{}, false
	}
	rest = strings.TrimSpace(rest)
	mText, rest, hasRest := strings.Cut(rest, ",")
	m, err := strconv.Atoi(strings.TrimSpace(mText))
	if err != nil || m < 0 || m > 99 {
		return cusdAnswer{}, false
	}
	c := cusdAnswer{m: m, dcs: -1}
	if !hasRest {
		return c, true
	}
	rest = strings.TrimSpace(rest)
	c.hasStr = true
	if quoted, ok := strings.CutPrefix(rest, `"`); ok {
		if sub := cusdTail.FindStringSubmatch(quoted); sub != nil {
			c.str = sub[1]
			if sub[2] != "" {
				c.dcs, _ = strconv.Atoi(sub[2])
			}
			return c, true
		}
		c.str = quoted // no closing quote: take what came
		return c, true
	}
	// No quotes: a trailing ,<dcs> still counts as one.
	c.str = rest
	if i := strings.LastIndexByte(rest, ','); i >= 0 {
		if d, err := strconv.Atoi(strings.TrimSpace(rest[i+1:])); err == nil && d >= 0 && d <= 255 {
			c.str, c.dcs = strings.TrimSpace(rest[:i]), d
		}
	}
	return c, true
}

// cusdComplete reports whether a +CUSD line holds its whole answer: it has
// no quoted string, or the string is closed (a quote, then the dcs if any,
// ends the line). A modem prints the line breaks of a text answer as they
// are, so a menu's answer spans several lines.
func cusdComplete(line string) bool {
	i := strings.IndexByte(line, '"')
	return i < 0 || cusdTail.MatchString(line[i+1:])
}

// ussdAlphabet is how a USSD string is coded.
type ussdAlphabet int

const (
	alphaGSM7     ussdAlphabet = iota
	alphaGSM7Lang              // GSM 7-bit, preceded by a language indication
	alphaUCS2
	alphaUCS2Lang // UCS-2, preceded by a 2-character language indication
	alphaData     // 8-bit data, or compressed
)

// alphabetOf reads a CBS data coding scheme (3GPP TS 23.038 section 5).
// Reserved values, and an absent dcs, mean the GSM 7-bit default alphabet,
// as the specification asks of a receiver.
func alphabetOf(dcs int) ussdAlphabet {
	switch {
	case dcs < 0 || dcs > 0xFF:
		return alphaGSM7
	case dcs == 0x10:
		return alphaGSM7Lang
	case dcs == 0x11:
		return alphaUCS2Lang
	case dcs&0xC0 == 0x40, dcs&0xF0 == 0x90:
		// General data coding (01xx), or a message with a user data
		// header (1001): bits 3-2 are the alphabet.
		if dcs&0xC0 == 0x40 && dcs&0x20 != 0 {
			return alphaData // compressed
		}
		switch dcs >> 2 & 3 {
		case 1:
			return alphaData
		case 2:
			return alphaUCS2
		}
		return alphaGSM7
	case dcs&0xF0 == 0xF0:
		if dcs&0x04 != 0 {
			return alphaData
		}
		return alphaGSM7
	}
	return alphaGSM7
}

// decodeUSSD decodes the string of a +CUSD answer to UTF-8 given its data
// coding scheme (-1 when absent).
//
// GSM 7-bit answers come as text in the modem's character set from most
// modems, and as hex of the packed septets from others (Huawei); the string
// is taken as hex only when it is all hex digits (not decimal digits
// alone), of even length, and decodes to printable text. UCS-2 comes as hex
// of big-endian 16-bit units. 8-bit data is shown as text when its bytes
// are printable, else as the hex it came as. A string that is not the hex
// its scheme calls for is taken as text the modem decoded already. Line
// breaks (CR, LF or both) come out as "\n".
func decodeUSSD(s string, dcs int) string {
	return lineBreaks.Replace(decodeString(s, dcs))
}

// lineBreaks makes every line break of a text "\n".
var lineBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// decodeString is decodeUSSD without the line breaks made alike.
func decodeString(s string, dcs int) string {
	switch alphabetOf(dcs) {
	case alphaUCS2:
		if b, ok := hexBytes(s); ok {
			return fromUCS2(b)
		}
	case alphaUCS2Lang:
		if b, ok := hexBytes(s); ok && len(b) >= 2 {
			return fromUCS2(b[2:])
		}
	case alphaData:
		if b, ok := hexBytes(s); ok {
			if utf8.Valid(b) && printable(string(b)) {
				return string(b)
			}
			return s
		}
	case alphaGSM7Lang:
		t := s
		if packed, ok := fromPackedGSM7(s); ok {
			t = packed
		}
		// The language: two characters and a CR (which the engine drops
		// from a text answer).
		if len(t) >= 3 && (t[2] == '\r' || t[2] == '\n') {
			t = t[3:]
		}
		return fromText(t)
	default:
		if t, ok := fromPackedGSM7(s); ok {
			return t
		}
	}
	return fromText(s)
}

// hexBytes decodes s when it is a non-empty run of hex digit pairs.
func hexBytes(s string) ([]byte, bool) {
	if s == "" || len(s)%2 != 0 {
		return nil, false
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}

// fromPackedGSM7 decodes s as hex of packed GSM 7-bit septets, and reports
// whether s is that: hex with at least one letter digit, whose septets make
// printable text (no escape to nothing, not blank).
func fromPackedGSM7(s string) (string, bool) {
	if strings.Trim(s, "0123456789") == "" {
		return "", false // decimal digits: a number, not hex
	}
	b, ok := hexBytes(s)
	if !ok {
		return "", false
	}
	septets := gsm7.Unpack7BitUSSD(b, 0)
	if len(b)%7 == 0 && len(septets) > 0 && septets[len(septets)-1] == 0 {
		// Seven spare bits left as zeros instead of the CR filler.
		septets = septets[:len(septets)-1]
	}
	if len(septets) == 0 || septets[len(septets)-1] == 0x1B {
		return "", false // an escape to nothing
	}
	d := gsm7.NewDecoder().Strict()
	t, err := d.Decode(septets)
	if err != nil || strings.TrimSpace(string(t)) == "" || !printable(string(t)) {
		return "", false
	}
	return string(t), true
}

// fromUCS2 decodes big-endian UTF-16 (UCS-2 with surrogate pairs); a lone
// surrogate or odd last byte becomes U+FFFD.
func fromUCS2(b []byte) string {
	units := make([]uint16, 0, len(b)/2+1)
	for i := 0; i+1 < len(b); i += 2 {
		units = append(units, uint16(b[i])<<8|uint16(b[i+1]))
	}
	if len(b)%2 != 0 {
		units = append(units, 0xFFFD)
	}
	return string(utf16.Decode(units))
}

// fromText returns a text answer as UTF-8: as it is when valid, else read
// as ISO 8859-1 (a modem set to AT+CSCS="8859-1").
func fromText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

// printable reports whether every rune of s is printable or a line break.
func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}
