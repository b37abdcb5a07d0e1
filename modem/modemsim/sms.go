package modemsim

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/simhook/simhook/internal/clock"
	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/semioctet"
	"github.com/warthog618/sms/encoding/tpdu"
	"github.com/warthog618/sms/encoding/ucs2"
)

// ErrStorageFull is returned when an incoming SMS finds no free slot.
var ErrStorageFull = errors.New("modemsim: storage full")

// Encoding chooses how an injected SMS is encoded.
type Encoding int

// Encodings.
const (
	Auto   Encoding = iota // GSM 7-bit when possible, otherwise UCS-2
	GSM7                   // GSM 7-bit with the extension table
	UCS2                   // UCS-2, emoji as surrogate pairs
	Binary                 // 8-bit data from SMS.Data
)

// SMS is an incoming message to inject.
type SMS struct {
	From     string
	Text     string
	Encoding Encoding
	Data     []byte
	SCTS     time.Time
	// ConcatRef, when not zero, is the concatenation reference of a long
	// message, as a sender that reuses one reference would set it; zero
	// takes the next of the modem's own counter.
	ConcatRef int
}

// smscPrefix is the SMSC address as it precedes a TPDU.
func (m *Modem) smscPrefix() []byte {
	num := strings.TrimPrefix(m.opts.SMSC, "+")
	digits, err := semioctet.Encode([]byte(num))
	if err != nil {
		return []byte{0}
	}
	return append([]byte{byte(len(digits) + 1), 0x91}, digits...)
}

// deliverPDUs encodes s as SMS-DELIVER TPDUs, concatenated if needed.
func (m *Modem) deliverPDUs(s SMS) ([][]byte, error) {
	scts := s.SCTS
	if scts.IsZero() {
		scts = m.opts.Now()
	}
	addr := tpdu.NewAddress()
	if isNumber(s.From) {
		addr.SetNumber(s.From)
		if !strings.HasPrefix(s.From, "+") {
			addr.SetTypeOfNumber(tpdu.TonUnknown)
		}
	} else {
		addr.Addr = s.From
		addr.SetTypeOfNumber(tpdu.TonAlphanumeric)
		addr.SetNumberingPlan(tpdu.NpUnknown)
	}
	tmpl, err := tpdu.NewDeliver()
	if err != nil {
		return nil, err
	}
	tmpl.OA = addr
	tmpl.SCTS = tpdu.Timestamp{Time: scts}
	ref := s.ConcatRef
	if ref == 0 {
		m.mu.Lock()
		ref = m.concatRef
		m.concatRef = m.concatRef%255 + 1
		m.mu.Unlock()
	}
	counter := &fixedCounter{n: ref}
	opts := []sms.EncoderOption{sms.AsDeliver, sms.WithTemplate(*tmpl)}
	var msg []byte
	switch s.Encoding {
	case Binary:
		tmpl.SetDCS(0x04)
		opts = []sms.EncoderOption{sms.AsDeliver, sms.WithTemplate(*tmpl)}
		msg = s.Data
	case UCS2:
		tmpl.SetDCS(0x08)
		opts = []sms.EncoderOption{sms.AsDeliver, sms.WithTemplate(*tmpl)}
		msg = ucs2.Encode([]rune(s.Text))
	default:
		msg = []byte(s.Text)
	}
	enc := sms.NewEncoder(opts...)
	enc.ConcatRef = counter
	pdus, err := enc.Encode(msg)
	if err != nil {
		return nil, fmt.Errorf("modemsim: encode: %w", err)
	}
	out := make([][]byte, 0, len(pdus))
	for i := range pdus {
		b, err := pdus[i].MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("modemsim: marshal: %w", err)
		}
		out = append(out, b)
	}
	return out, nil
}

// fixedCounter hands out one concatenation reference.
type fixedCounter struct{ n int }

func (c *fixedCounter) Count() int { return c.n }

func isNumber(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// EncodeSMS returns the SMS-DELIVER TPDUs the network would deliver for s,
// one per part, without storing them; InjectPDU stores them one by one,
// in any order (parts of several messages interleaved, say).
func (m *Modem) EncodeSMS(s SMS) ([][]byte, error) {
	if !utf8.ValidString(s.Text) {
		return nil, errors.New("modemsim: text is not UTF-8")
	}
	return m.deliverPDUs(s)
}

// InjectSMS delivers an incoming SMS as the network would: split into parts
// if long, stored in the receive storage and announced per +CNMI (or routed
// directly with +CMT). It returns the storage indexes used (nil when routed).
// With no room left it stores nothing and returns ErrStorageFull.
func (m *Modem) InjectSMS(s SMS) ([]int, error) {
	if !utf8.ValidString(s.Text) {
		return nil, errors.New("modemsim: text is not UTF-8")
	}
	pdus, err := m.deliverPDUs(s)
	if err != nil {
		return nil, err
	}
	return m.deliver(pdus)
}

// InjectPDU stores one raw SMS-DELIVER TPDU as is, even a malformed one,
// and announces it.
func (m *Modem) InjectPDU(tpduBytes []byte) (int, error) {
	idx, err := m.deliver([][]byte{tpduBytes})
	if err != nil || len(idx) == 0 {
		return -1, err
	}
	return idx[0], nil
}

// deliver stores or routes the parts of one incoming message.
func (m *Modem) deliver(pdus [][]byte) ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if m.cnmi[1] == 2 && m.master != nil {
		for _, p := range pdus {
			full := append(m.smscPrefix(), p...)
			m.urcLocked(fmt.Sprintf("+CMT: ,%d", len(p)), strings.ToUpper(hex.EncodeToString(full)))
		}
		return nil, nil
	}
	st := m.stores[m.cpms[2]]
	if st.full || st.cap-len(st.slots) < len(pdus) {
		return nil, ErrStorageFull
	}
	var idx []int
	for _, p := range pdus {
		i := st.put(&entry{pdu: append(m.smscPrefix(), p...), tpdu: len(p), stat: statUnread})
		idx = append(idx, i)
	}
	if m.cnmi[1] == 1 {
		for _, i := range idx {
			m.urcLocked(fmt.Sprintf(`+CMTI: "%s",%d`, m.cpms[2], i))
		}
	}
	return idx, nil
}

// smsCommandLocked runs the SMS commands.
func (m *Modem) smsCommandLocked(name, rest string) result {
	set, isSet := strings.CutPrefix(rest, "=")
	switch name {
	case "+CMGF":
		if isSet && set != "?" {
			v := atoi(set, -1)
			if v != 0 && v != 1 {
				return errorResult
			}
			m.cmgf = v
			return ok()
		}
		return ok(fmt.Sprintf("+CMGF: %d", m.cmgf))
	case "+CSMS":
		if isSet && set != "?" {
			return ok("+CSMS: 1,1,1")
		}
		return ok("+CSMS: 0,1,1,1")
	case "+CPMS":
		return m.cpmsLocked(set, isSet)
	case "+CNMI":
		if isSet && set != "?" {
			a := args(set)
			var v [5]int
			for i := range v {
				if i < len(a) {
					v[i] = atoi(a[i], 0)
				}
			}
			if v[1] > 3 || v[3] > 2 {
				return m.cmsError(303, "operation not supported")
			}
			m.cnmi = v
			return ok()
		}
		if set == "?" {
			return ok("+CNMI: (0-2),(0-3),(0-2),(0-2),(0,1)")
		}
		return ok(fmt.Sprintf("+CNMI: %d,%d,%d,%d,%d", m.cnmi[0], m.cnmi[1], m.cnmi[2], m.cnmi[3], m.cnmi[4]))
	case "+CMGR":
		if m.cmgf != 0 {
			return m.cmsError(302, "operation not allowed")
		}
		i := atoi(set, -1)
		e := m.stores[m.cpms[0]].slots[i]
		if e == nil {
			return m.cmsError(321, "invalid memory index")
		}
		line := fmt.Sprintf("+CMGR: %d,,%d", e.stat, e.tpdu)
		if e.stat == statUnread {
			e.stat = statRead
		}
		return ok(line, strings.ToUpper(hex.EncodeToString(e.pdu)))
	case "+CMGL":
		if m.cmgf != 0 {
			return m.cmsError(302, "operation not allowed")
		}
		if set == "?" {
			return ok("+CMGL: (0-4)")
		}
		want := atoi(set, 4)
		st := m.stores[m.cpms[0]]
		var lines []string
		for _, i := range st.indexes() {
			e := st.slots[i]
			if want != 4 && e.stat != want {
				continue
			}
			lines = append(lines, fmt.Sprintf("+CMGL: %d,%d,,%d", i, e.stat, e.tpdu), strings.ToUpper(hex.EncodeToString(e.pdu)))
			if e.stat == statUnread {
				e.stat = statRead
			}
		}
		return ok(lines...)
	case "+CMGD":
		if set == "?" {
			return ok("+CMGD: (1-255),(0-4)")
		}
		a := args(set)
		i := atoi(a[0], -1)
		flag := 0
		if len(a) > 1 {
			flag = atoi(a[1], 0)
		}
		st := m.stores[m.cpms[0]]
		if flag == 0 {
			if _, exists := st.slots[i]; !exists {
				return m.cmsError(321, "invalid memory index")
			}
			delete(st.slots, i)
			return ok()
		}
		for j, e := range st.slots {
			if flag == 4 || e.stat == statRead || flag >= 2 && e.stat == statSent || flag >= 3 && e.stat == statUnsent {
				delete(st.slots, j)
			}
		}
		return ok()
	case "+CMGS":
		if m.cmgf != 0 {
			return m.cmsError(302, "operation not allowed")
		}
		n := atoi(set, -1)
		if n <= 0 || n > 255 {
			return m.cmsError(304, "invalid PDU mode parameter")
		}
		m.prompt, m.pduLen, m.pending = true, n, nil
		return result{prompt: true}
	}
	return m.cmsError(500, "unknown error")
}

// cpmsLocked answers +CPMS.
func (m *Modem) cpmsLocked(set string, isSet bool) result {
	if isSet && set == "?" {
		return ok(`+CPMS: ("SM","ME","MT"),("SM","ME","MT"),("SM","ME","MT")`)
	}
	if isSet {
		a := args(set)
		for i := range a {
			if i > 2 {
				break
			}
			if m.stores[a[i]] == nil {
				return m.cmsError(302, "operation not allowed")
			}
			m.cpms[i] = a[i]
		}
		var parts []string
		for _, s := range m.cpms {
			st := m.stores[s]
			parts = append(parts, fmt.Sprintf("%d,%d", st.used(), st.cap))
		}
		return ok("+CPMS: " + strings.Join(parts, ","))
	}
	var parts []string
	for _, s := range m.cpms {
		st := m.stores[s]
		parts = append(parts, fmt.Sprintf(`"%s",%d,%d`, s, st.used(), st.cap))
	}
	return ok("+CPMS: " + strings.Join(parts, ","))
}

// finishPDU ends the +CMGS prompt: Ctrl-Z sends, ESC cancels.
func (m *Modem) finishPDU(master interface{}, cancel bool) {
	m.mu.Lock()
	data := strings.TrimSpace(string(m.pending))
	m.prompt, m.pending = false, nil
	n := m.pduLen
	var resp string
	var report func()
	if cancel {
		resp = "\r\nOK\r\n"
	} else {
		resp, report = m.submitLocked(data, n)
	}
	delay := m.replyDelay
	cur := m.master
	m.mu.Unlock()
	if !clock.Sleep(m.opts.Clock, delay, m.stop) {
		return
	}
	m.mu.Lock()
	m.writeLocked(cur, resp)
	m.mu.Unlock()
	if report != nil {
		report()
	}
}

// submitLocked takes one SMS-SUBMIT: records it and answers +CMGS.
func (m *Modem) submitLocked(data string, n int) (string, func()) {
	raw, err := hex.DecodeString(data)
	if err != nil || len(raw) < 1 || int(raw[0])+1 > len(raw) {
		return "\r\n" + m.cmsError(304, "invalid PDU mode parameter").final + "\r\n", nil
	}
	t := raw[int(raw[0])+1:]
	if len(t) != n {
		return "\r\n" + m.cmsError(304, "invalid PDU mode parameter").final + "\r\n", nil
	}
	pdu, err := sms.Unmarshal(t, sms.AsMO)
	if err != nil || pdu.SmsType() != tpdu.SmsSubmit {
		return "\r\n" + m.cmsError(304, "invalid PDU mode parameter").final + "\r\n", nil
	}
	to := pdu.DA.Number()
	rule, ok := m.rules[to]
	if !ok {
		rule = m.rules[""]
	}
	if rule.RefuseCMS != 0 {
		return "\r\n" + m.cmsError(rule.RefuseCMS, "refused").final + "\r\n", nil
	}
	mr := m.mr
	m.mr = (m.mr + 1) % 256
	part := SentPart{To: to, Ref: mr, PDU: t, At: m.opts.Now(), StatusReport: pdu.FirstOctet&0x20 != 0}
	if text, err := sms.Decode([]*tpdu.TPDU{pdu}); err == nil {
		part.Text = string(text)
	} else {
		part.Text = string(pdu.UD) // half of a surrogate pair: kept raw for reassembly
		part.raw = pdu
	}
	if segs, seq, ref, isConcat := pdu.ConcatInfo(); isConcat {
		part.Total, part.Seq, part.ConcatRef = segs, seq, ref
	}
	if part.raw == nil {
		part.raw = pdu
	}
	m.sent = append(m.sent, part)
	resp := fmt.Sprintf("\r\n+CMGS: %d\r\n\r\nOK\r\n", mr)
	if !part.StatusReport {
		return resp, nil
	}
	return resp, func() { m.scheduleReports(rule, to, mr) }
}

// scheduleReports sends the status reports a send rule calls for.
func (m *Modem) scheduleReports(rule SendRule, to string, mr int) {
	var seq []byte
	switch rule.Outcome {
	case Delivered:
		seq = []byte{0x00}
	case Failed:
		seq = []byte{0x41}
	case TemporaryThenDelivered:
		seq = []byte{0x20, 0x00}
	case TemporaryThenFailed:
		seq = []byte{0x20, 0x41}
	default:
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for _, st := range seq {
			select {
			case <-time.After(rule.ReportDelay):
			case <-m.stop:
				return
			}
			m.statusReport(to, mr, st)
		}
	}()
}

// statusReport emits one SMS-STATUS-REPORT as +CNMI's ds says.
func (m *Modem) statusReport(to string, mr int, st byte) {
	t, err := tpdu.New(tpdu.SmsStatusReport)
	if err != nil {
		return
	}
	now := m.opts.Now()
	t.MR = byte(mr)
	t.RA = tpdu.NewAddress(tpdu.FromNumber(to))
	if !strings.HasPrefix(to, "+") {
		t.RA.SetTypeOfNumber(tpdu.TonUnknown)
	}
	t.SCTS = tpdu.Timestamp{Time: now.Add(-time.Second)}
	t.DT = tpdu.Timestamp{Time: now}
	t.ST = st
	b, err := t.MarshalBinary()
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	full := append(m.smscPrefix(), b...)
	switch m.cnmi[3] {
	case 1:
		m.urcLocked("+CDS: "+strconv.Itoa(len(b)), strings.ToUpper(hex.EncodeToString(full)))
	case 2:
		s := m.stores[m.cpms[2]]
		if i := s.put(&entry{pdu: full, tpdu: len(b), stat: statUnread}); i > 0 {
			m.urcLocked(fmt.Sprintf(`+CDSI: "%s",%d`, m.cpms[2], i))
		}
	}
}
