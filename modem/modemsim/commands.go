package modemsim

import (
	"fmt"
	"strconv"
	"strings"
)

// result is a command's outcome: info lines and a final result code.
type result struct {
	lines  []string
	final  string // "OK", "ERROR", "+CME ERROR: n", "+CMS ERROR: n"; "" = prompt
	prompt bool
}

func ok(lines ...string) result { return result{lines: lines, final: "OK"} }

// cmeError and cmsError honour +CMEE.
func (m *Modem) cmeError(code int, text string) result {
	switch m.cmee {
	case 1:
		return result{final: "+CME ERROR: " + strconv.Itoa(code)}
	case 2:
		return result{final: "+CME ERROR: " + text}
	}
	return result{final: "ERROR"}
}

func (m *Modem) cmsError(code int, text string) result {
	switch m.cmee {
	case 1:
		return result{final: "+CMS ERROR: " + strconv.Itoa(code)}
	case 2:
		return result{final: "+CMS ERROR: " + text}
	}
	return result{final: "ERROR"}
}

var errorResult = result{final: "ERROR"}

// executeLocked runs one command line and renders the whole answer.
func (m *Modem) executeLocked(line string) string {
	if len(line) < 2 || !strings.EqualFold(line[:2], "AT") {
		return "" // not a command: a real modem ignores it
	}
	if m.errorStorm > 0 {
		m.errorStorm--
		m.commands = append(m.commands, strings.ToUpper(line[2:]))
		return "\r\nERROR\r\n"
	}
	var b strings.Builder
	res := ok()
	for _, cmd := range splitCommands(line[2:]) {
		m.commands = append(m.commands, cmd)
		res = m.commandLocked(cmd)
		for _, l := range res.lines {
			b.WriteString("\r\n" + l + "\r\n")
		}
		if res.prompt {
			b.WriteString("\r\n> ")
			return b.String()
		}
		if res.final != "OK" {
			break
		}
	}
	b.WriteString("\r\n" + res.final + "\r\n")
	return b.String()
}

// splitCommands splits "E0V1+CMEE=1;+CMGF=0" into its commands, with each
// command name in upper case and arguments as typed.
func splitCommands(s string) []string {
	var parts []string
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case ';':
			if !inQuote {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, s[start:])
	var out []string
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if p[0] == '+' || p[0] == '^' {
			out = append(out, upperName(p))
			continue
		}
		// Basic commands: a letter (or &letter) and digits, several in a row;
		// an extended command may follow.
		for p != "" {
			if p[0] == '+' || p[0] == '^' {
				out = append(out, upperName(p))
				break
			}
			i := 1
			if p[0] == '&' && len(p) > 1 {
				i = 2
			}
			if strings.HasPrefix(strings.ToUpper(p), "S0=") || strings.HasPrefix(strings.ToUpper(p), "S7=") {
				i = 3
			}
			for i < len(p) && p[i] >= '0' && p[i] <= '9' {
				i++
			}
			out = append(out, strings.ToUpper(p[:i]))
			p = p[i:]
		}
	}
	return out
}

// upperName upper-cases an extended command's name, not its arguments.
func upperName(p string) string {
	i := strings.IndexAny(p, "=?")
	if i < 0 {
		return strings.ToUpper(p)
	}
	return strings.ToUpper(p[:i]) + p[i:]
}

// args splits "a,b,"c"" into trimmed values without quotes.
func args(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

func atoi(s string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def
	}
	return n
}

// commandLocked runs one command.
func (m *Modem) commandLocked(cmd string) result {
	name, rest := cmd, ""
	if i := strings.IndexAny(cmd, "=?"); i >= 0 {
		name, rest = cmd[:i], cmd[i:]
	}
	p := m.opts.Profile
	switch {
	case name == "" || name == "&W" || name == "Q0" || name == "V1" || name == "X4" || strings.HasPrefix(name, "S0") || strings.HasPrefix(name, "S7"):
		return ok()
	case name == "E0" || name == "E":
		m.echo = false
		return ok()
	case name == "E1":
		m.echo = true
		return ok()
	case name == "Z" || name == "Z0" || name == "&F" || name == "&F0":
		pin := m.pinOK
		m.powerOnLocked()
		m.pinOK = pin
		return ok()
	case name == "I" || name == "I0":
		return ok(p.Manufacturer, p.Model, "Revision: "+p.Revision)
	case name == "H" || name == "H0" || name == "+CHUP":
		m.hangUpLocked()
		return ok()
	case name == "A":
		if m.answerLocked() {
			return ok()
		}
		return result{final: "NO CARRIER"}
	case name == "+CGMI":
		return ok(p.Manufacturer)
	case name == "+CGMM":
		return ok(p.Model)
	case name == "+CGMR":
		return ok(p.Revision)
	case name == "+CGSN":
		return ok(m.opts.IMEI)
	case name == "+CIMI":
		if !m.pinOK {
			return m.cmeError(11, "SIM PIN required")
		}
		return ok(m.opts.IMSI)
	case name == "+CCID" || name == "^ICCID" || name == "+QCCID" || name == "+ICCID":
		return ok(p.CCIDPrefix + m.opts.ICCID)
	case name == "+CPIN":
		return m.cpinLocked(rest)
	case name == "+CMEE":
		if v, isSet := strings.CutPrefix(rest, "="); isSet && v != "?" {
			n := atoi(v, -1)
			if n < 0 || n > 2 {
				return errorResult
			}
			m.cmee = n
			return ok()
		}
		if rest == "=?" {
			return ok("+CMEE: (0-2)")
		}
		return ok(fmt.Sprintf("+CMEE: %d", m.cmee))
	case name == "+CREG":
		if v, isSet := strings.CutPrefix(rest, "="); isSet && v != "?" {
			m.creg = atoi(v, 0)
			return ok()
		}
		return ok(fmt.Sprintf("+CREG: %d,%d", m.creg, m.registrationLocked()))
	case name == "+CGREG" || name == "+CEREG":
		return ok(fmt.Sprintf("%s: 0,%d", name, m.registrationLocked()))
	case name == "+CSQ":
		for _, c := range p.Chatter {
			m.urcLocked(c)
		}
		return ok("+CSQ: 20,99")
	case name == "+COPS":
		if rest == "=?" {
			return ok(`+COPS: (2,"SimNet","SimNet","20815",7),,(0-4),(0-2)`)
		}
		if strings.HasPrefix(rest, "=") {
			return ok()
		}
		if m.registrationLocked() != 1 {
			return ok("+COPS: 0")
		}
		return ok(`+COPS: 0,0,"SimNet",7`)
	case name == "+CFUN" && isReset(rest):
		m.resetPending = true
		return ok()
	case name == "+CFUN" || name == "+CSCS" || name == "+CRC" || name == "+CVHU" || name == "+CMMS" || name == "+CNMA" || name == "+CSMP" || name == "+CSDH":
		if strings.HasPrefix(rest, "?") {
			return ok(fmt.Sprintf("%s: 1", name))
		}
		return ok()
	case name == "+CLIP":
		if v, isSet := strings.CutPrefix(rest, "="); isSet && v != "?" {
			m.clip = atoi(v, 0) == 1
			return ok()
		}
		return ok(fmt.Sprintf("+CLIP: %d,1", boolInt(m.clip)))
	case name == "+CLCC":
		return ok(m.clccLocked()...)
	case name == "+CUSD":
		return m.cusdLocked(rest)
	case name == "+CSCA":
		if strings.HasPrefix(rest, "=") && rest != "=?" {
			return ok()
		}
		return ok(fmt.Sprintf(`+CSCA: "%s",145`, m.opts.SMSC))
	}
	// SMS commands need the SIM.
	if strings.HasPrefix(name, "+CM") || name == "+CSMS" || name == "+CPMS" || name == "+CNMI" {
		if !m.pinOK {
			return m.cmsError(311, "SIM PIN required")
		}
		return m.smsCommandLocked(name, rest)
	}
	return m.cmeError(4, "operation not supported")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// registrationLocked is the +CREG stat: 1 registered once the SIM is open.
func (m *Modem) registrationLocked() int {
	if !m.pinOK {
		return 0
	}
	return 1
}

// cpinLocked answers +CPIN.
func (m *Modem) cpinLocked(rest string) result {
	if rest == "?" || rest == "" {
		if m.pinOK {
			return ok("+CPIN: READY")
		}
		return ok("+CPIN: SIM PIN")
	}
	if rest == "=?" {
		return ok()
	}
	a := args(strings.TrimPrefix(rest, "="))
	if m.pinOK {
		return ok()
	}
	if a[0] != m.opts.PIN {
		return m.cmeError(16, "incorrect password")
	}
	m.pinOK = true
	return ok()
}
