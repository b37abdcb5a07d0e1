package modem

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
)

// storedPart is one part of a concatenated message waiting on the modem.
type storedPart struct {
	index int
	seq   int
	line  string // the stored PDU as the modem lists it
	tpdu  []byte
	pdu   *tpdu.TPDU
	seen  time.Time
	// arrival orders the parts as the receiver first saw them: unlike
	// seen, it tells apart parts seen at the same instant.
	arrival uint64
}

// concatKey identifies a concatenated message.
type concatKey struct {
	from  string
	ref   int
	total int
}

// receiver turns stored PDUs into messages and reports. The parts of a
// concatenated message stay on the modem (and are listed here by index)
// until the whole message is handled.
type receiver struct {
	p       *Phone
	pending map[concatKey]map[int]*storedPart // by sequence number
	failed  map[int]time.Time                 // indexes whose handler failed, retried later
	// held are slots left on the modem because their part collides with a
	// different waiting part of the same sender, reference and count (a
	// sender reusing references); each is read again once the message
	// it collides with has gone.
	held map[int]concatKey
	// capacity is the receive storage's size as +CPMS reported it at
	// initialisation (0 when unknown).
	capacity int
	// swept holds the slots deleted during the sweep in progress (nil
	// outside one): a message completed or flushed there may take a part
	// listed further on, whose listing is then stale.
	swept map[int]bool
	// arrivals counts the parts seen, to order them (storedPart.arrival).
	arrivals uint64
	// resweep, when set, is when to sweep again because a read or a sweep
	// failed (a timeout, a reply cut short) or indications were dropped:
	// the indications are spent, and the safety sweep may be minutes away.
	resweep time.Time
}

// resweepDelay is how long after a failed read or sweep the next sweep runs.
const resweepDelay = 5 * time.Second

// retryDelay is how long after a handler refused a message (or report) the
// sweep that offers it again runs.
const retryDelay = 5 * time.Second

// sweepSoon schedules a sweep for what a failed read or sweep, or a
// dropped indication, left on the modem. A sweep already scheduled stays,
// unless it was due already (the sweep that failed was that one): then the
// next one comes resweepDelay later, so a modem that keeps failing is not
// swept in a loop.
func (r *receiver) sweepSoon(err error) {
	if now := r.p.now(); r.resweep.IsZero() || !r.resweep.After(now) {
		r.resweep = now.Add(resweepDelay)
	}
	if errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) {
		return // the session is ending; the next one starts with a sweep
	}
	r.p.log.Warn("stored messages may be left unread; sweeping again shortly", "phone", r.p.cfg.ID, "why", err, "in", resweepDelay)
}

func newReceiver(p *Phone) *receiver {
	return &receiver{p: p, capacity: p.storageCapacity(), pending: make(map[concatKey]map[int]*storedPart),
		failed: make(map[int]time.Time), held: make(map[int]concatKey)}
}

// hasDue reports whether a retry, a sweep after a failed read or an
// incomplete message timeout is due.
func (r *receiver) hasDue() bool {
	at, ok := r.due()
	return ok && !r.p.now().Before(at)
}

// due is when the next sweep is due: a sweep after a failed read or sweep
// (which, once scheduled, also serves the others), a retry of what a
// handler refused, or the timeout of an incomplete message. false when
// nothing waits: an idle phone arms no timer for it.
func (r *receiver) due() (time.Time, bool) {
	if !r.resweep.IsZero() {
		return r.resweep, true
	}
	var at time.Time
	earlier := func(t time.Time) {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	for _, failed := range r.failed {
		earlier(failed.Add(retryDelay))
	}
	for _, parts := range r.pending {
		// The part flushIncomplete judges a message by: its first.
		var first *storedPart
		for _, sp := range parts {
			if first == nil || sp.seq < first.seq {
				first = sp
			}
		}
		if first != nil {
			earlier(r.expiry(first))
		}
	}
	return at, !at.IsZero()
}

// expiry is when an incomplete message's part is too old to wait for the
// rest: ConcatTimeout after its SCTS, or after it was first seen if that was
// earlier (a service centre's clock may be ahead).
func (r *receiver) expiry(sp *storedPart) time.Time {
	ts := sp.pdu.SCTS.Time
	if ts.IsZero() || ts.After(sp.seen) {
		ts = sp.seen
	}
	return ts.Add(r.p.cfg.ConcatTimeout)
}

// expired reports whether an incomplete message's part is too old.
func (r *receiver) expired(sp *storedPart, now time.Time) bool {
	return !now.Before(r.expiry(sp))
}

// sweep lists everything stored and handles it, then delivers incomplete
// messages that timed out or that fill the storage.
func (r *receiver) sweep(ctx context.Context, eng *engine) error {
	lines, err := r.p.cmd(ctx, eng, "+CMGL=4")
	if err != nil {
		r.sweepSoon(err)
		return err
	}
	r.resweep = time.Time{}
	r.failed = make(map[int]time.Time)
	r.held = make(map[int]concatKey)
	recs, stray := storedRecords(lines, "+CMGL:")
	r.p.countJunk(stray)
	r.swept = make(map[int]bool)
	defer func() { r.swept = nil }()
	for _, rec := range recs {
		idx, err := strconv.Atoi(strings.TrimSpace(strings.Split(rec.header[len("+CMGL:"):], ",")[0]))
		if err != nil {
			r.p.countJunk(1)
			continue
		}
		if r.swept[idx] {
			continue // handed over with an earlier slot's message, and deleted
		}
		if err := r.handlePDU(ctx, eng, idx, rec.pdu); errors.Is(err, ErrClosed) {
			return err
		}
	}
	return r.flushIncomplete(ctx, eng, len(recs))
}

// read handles the message announced at index idx.
func (r *receiver) read(ctx context.Context, eng *engine, idx int) error {
	lines, err := r.p.cmd(ctx, eng, "+CMGR="+strconv.Itoa(idx))
	if err != nil {
		if invalidIndex(err) {
			return nil // already gone (handled by a sweep)
		}
		r.sweepSoon(err)
		return err
	}
	recs, stray := storedRecords(lines, "+CMGR:")
	r.p.countJunk(stray)
	if len(recs) == 0 {
		return nil // empty slot, or a reply too garbled to trust: the sweep reads it again
	}
	return r.handlePDU(ctx, eng, idx, recs[0].pdu)
}

// handlePDU decodes one stored PDU and hands it on.
func (r *receiver) handlePDU(ctx context.Context, eng *engine, idx int, hexPDU string) error {
	line := strings.ToUpper(strings.TrimSpace(hexPDU))
	if r.p.wasHandled(idx, line) {
		// Handed over already; only its delete failed (timeout, the
		// modem gone). Delete it now without offering it again.
		return r.delete(ctx, eng, idx, line)
	}
	raw, _ := hex.DecodeString(line)
	pm, t, err := decodeStored(line)
	if err != nil {
		return r.malformed(ctx, eng, idx, line, raw, err)
	}
	switch t.SmsType() {
	case tpdu.SmsStatusReport:
		rep := r.report(t, idx)
		if err := r.p.h.HandleStatusReport(ctx, rep); err != nil {
			r.failed[idx] = r.p.now()
			return nil
		}
		return r.delete(ctx, eng, idx, line)
	case tpdu.SmsDeliver:
	default:
		return r.malformed(ctx, eng, idx, line, raw, fmt.Errorf("unexpected %s TPDU", t.SmsType()))
	}
	segs, seq, ref, isConcat := t.ConcatInfo()
	if isConcat {
		if err := r.checkPart(t.OA.Number(), ref, segs, seq); err != nil {
			// Never joined to a message: kept as it is, so the genuine
			// parts still make one.
			return r.malformed(ctx, eng, idx, line, raw, err)
		}
	}
	if !isConcat || segs <= 1 {
		return r.deliver(ctx, eng, []*storedPart{{index: idx, seq: 1, line: line, tpdu: pm.TPDU, pdu: t, seen: r.p.now()}}, 1, false)
	}
	key, _ := concatKeyOf(t)
	parts := r.pending[key]
	if parts == nil {
		parts = make(map[int]*storedPart)
		r.pending[key] = parts
	}
	if old, dup := parts[seq]; dup && old.index != idx {
		if samePart(old.pdu, t) {
			// A second copy of a part (resent by the network): keep one,
			// drop the other.
			return r.delete(ctx, eng, idx, line)
		}
		// Another message with the same sender, reference and count:
		// senders that reuse references produce these. Which waiting
		// parts belong to which message cannot be told, so this part
		// stays on the modem, untouched, until the waiting message is
		// delivered (complete, or flagged when it times out or the
		// storage fills), and is then read again.
		r.held[idx] = key
		r.p.log.Info("a part collides with a waiting part of another message; left on the modem for now",
			"phone", r.p.cfg.ID, "index", idx, "ref", ref)
		return nil
	}
	if parts[seq] == nil {
		r.arrivals++
		parts[seq] = &storedPart{index: idx, seq: seq, line: line, tpdu: pm.TPDU, pdu: t, seen: r.p.now(), arrival: r.arrivals}
	}
	if len(parts) < segs {
		if r.capacity > 0 && r.pendingParts()+len(r.failed)+len(r.held) >= r.capacity {
			// Every slot holds a part waiting for the rest (or a message
			// the handler refused): nothing more can arrive until a slot
			// frees, so the oldest incomplete message goes as it is.
			return r.flushOldest(ctx, eng)
		}
		return nil
	}
	delete(r.pending, key)
	list := sortedParts(parts)
	if err := r.deliver(ctx, eng, list, segs, false); err != nil {
		return err
	}
	return nil
}

// checkPart returns why a part's concatenation header cannot be right, or
// nil: a count of 0, a sequence number of 0 or above the count, or a count
// that disagrees with the parts waiting with the same sender and
// reference. Such a part would complete a message it does not belong to (a
// "200 of 2" with part 1 of 2), or wait for parts that never come.
func (r *receiver) checkPart(from string, ref, segs, seq int) error {
	if err := checkSequence(segs, seq); err != nil {
		return err
	}
	for key := range r.pending {
		if key.from == from && key.ref == ref && key.total != segs {
			return fmt.Errorf("concatenated part %d of %d, but the waiting parts of reference %d from this sender have a count of %d",
				seq, segs, ref, key.total)
		}
	}
	return nil
}

// checkSequence returns why a part's count and sequence number make no
// sense on their own, or nil.
func checkSequence(segs, seq int) error {
	if segs < 1 || seq < 1 || seq > segs {
		return fmt.Errorf("concatenated part %d of %d: out of range", seq, segs)
	}
	return nil
}

// samePart reports whether two parts with the same key and sequence number
// are copies of one another: the same user data, read the same way.
func samePart(a, b *tpdu.TPDU) bool {
	if a.DCS != b.DCS || !bytes.Equal(a.UD, b.UD) || len(a.UDH) != len(b.UDH) {
		return false
	}
	for i := range a.UDH {
		if a.UDH[i].ID != b.UDH[i].ID || !bytes.Equal(a.UDH[i].Data, b.UDH[i].Data) {
			return false
		}
	}
	return true
}

// concatKeyOf returns the key of a concatenated message's part; false for
// a message in one part.
func concatKeyOf(t *tpdu.TPDU) (concatKey, bool) {
	segs, _, ref, ok := t.ConcatInfo()
	if !ok || segs <= 1 {
		return concatKey{}, false
	}
	return concatKey{from: t.OA.Number(), ref: ref, total: segs}, true
}

// sortedParts orders a message's parts by sequence number.
func sortedParts(parts map[int]*storedPart) []*storedPart {
	list := make([]*storedPart, 0, len(parts))
	for _, sp := range parts {
		list = append(list, sp)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].seq < list[j].seq })
	return list
}

// flushIncomplete delivers incomplete messages that timed out, or the
// oldest one when the storage is full of parts waiting for the rest.
func (r *receiver) flushIncomplete(ctx context.Context, eng *engine, stored int) error {
	now := r.p.now()
	used, total := r.storageUse(ctx, eng)
	// Full of incomplete parts (and refused messages), not of something
	// the driver cannot free by delivering.
	full := total > 0 && used >= total && r.pendingParts()+len(r.failed)+len(r.held) >= used
	anyLeft := false
	for key, parts := range r.pending {
		list := sortedParts(parts)
		if r.expired(list[0], now) {
			delete(r.pending, key)
			if err := r.deliver(ctx, eng, list, key.total, true); err != nil {
				return err
			}
			continue
		}
		anyLeft = true
	}
	if full && anyLeft {
		return r.flushOldest(ctx, eng)
	}
	return nil
}

// pendingParts counts the stored parts waiting for the rest of their
// message.
func (r *receiver) pendingParts() int {
	n := 0
	for _, parts := range r.pending {
		n += len(parts)
	}
	return n
}

// flushOldest delivers the incomplete message whose first part arrived
// first, flagged Incomplete, to free its slots.
func (r *receiver) flushOldest(ctx context.Context, eng *engine) error {
	var oldestKey concatKey
	var oldest uint64
	found := false
	for key, parts := range r.pending {
		first := sortedParts(parts)[0]
		if !found || first.arrival < oldest {
			oldestKey, oldest, found = key, first.arrival, true
		}
	}
	if !found {
		return nil
	}
	list := sortedParts(r.pending[oldestKey])
	delete(r.pending, oldestKey)
	r.p.log.Warn("storage full of incomplete messages: delivering the oldest as it is", "phone", r.p.cfg.ID,
		"parts", len(list), "of", oldestKey.total)
	return r.deliver(ctx, eng, list, oldestKey.total, true)
}

// storageUse asks +CPMS? how many slots of the receive storage are used,
// and how many there are (0, 0 when unknown).
func (r *receiver) storageUse(ctx context.Context, eng *engine) (used, total int) {
	lines, err := r.p.cmd(ctx, eng, "+CPMS?")
	if err != nil {
		return 0, 0
	}
	r.p.countJunk(strayLines(lines, "+CPMS:"))
	for _, l := range lines {
		if hasPrefix(l, "+CPMS:") {
			// +CPMS: "SM",3,30,"SM",3,30,"SM",3,30: the third is where
			// received messages go.
			if u, t, ok := parseCPMS(l, 2); ok {
				return u, t
			}
		}
	}
	return 0, 0
}

// message joins a message's decoded parts.
func (r *receiver) message(parts []*storedPart, total int, incomplete bool) (*Message, error) {
	m := &Message{Phone: r.p.cfg.ID, Parts: total, Incomplete: incomplete, Storage: r.p.cfg.Storage}
	segs := make([]*tpdu.TPDU, 0, len(parts))
	for _, sp := range parts {
		segs = append(segs, sp.pdu)
		m.PDUs = append(m.PDUs, sp.tpdu)
		m.Indexes = append(m.Indexes, sp.index)
	}
	first := parts[0].pdu
	m.Originator = first.OA.Number()
	if first.OA.TypeOfNumber() == tpdu.TonAlphanumeric || first.OA.TypeOfNumber() == tpdu.TonUnknown {
		m.Originator = first.OA.Addr
	}
	m.SCTS = first.SCTS.Time
	alpha, _ := first.DCS.Alphabet()
	switch alpha {
	case tpdu.Alpha8Bit:
		m.Encoding = "8bit"
		for _, s := range segs {
			m.Data = append(m.Data, s.UD...)
		}
		m.Text = renderData(m.Data)
		return m, nil
	case tpdu.AlphaUCS2:
		m.Encoding = "ucs2"
	default:
		m.Encoding = "gsm7"
	}
	text, err := decodeText(segs, incomplete)
	if err != nil {
		return nil, err
	}
	m.Text = text
	return m, nil
}

// deliver hands a whole (or timed-out) message to the handler and deletes
// its parts once the handler accepted it.
func (r *receiver) deliver(ctx context.Context, eng *engine, parts []*storedPart, total int, incomplete bool) error {
	m, decodeErr := r.message(parts, total, incomplete)
	if decodeErr != nil {
		// No part can go in a message: each is kept as it is, so none is
		// left on the modem outside any waiting message.
		r.releaseHeld(parts)
		for _, sp := range parts {
			raw, _ := hex.DecodeString(sp.line)
			if err := r.malformed(ctx, eng, sp.index, sp.line, raw, decodeErr); err != nil {
				return err
			}
		}
		return nil
	}
	if err := r.p.h.HandleSMS(ctx, m); err != nil {
		level := slog.LevelWarn
		if errors.Is(err, ErrHeld) {
			level = slog.LevelDebug
		}
		r.p.log.Log(ctx, level, "message not accepted; it stays on the modem", "phone", r.p.cfg.ID, "err", err)
		for _, sp := range parts {
			r.failed[sp.index] = r.p.now()
		}
		return nil
	}
	// Every part is marked handed over before the first delete, so a
	// delete that fails (a timeout, the modem gone, shutdown) leaves the
	// rest to be deleted later rather than offered again as a new,
	// incomplete message.
	for _, sp := range parts {
		r.p.setHandled(sp.index, sp.line)
	}
	r.releaseHeld(parts)
	for _, sp := range parts {
		if err := r.delete(ctx, eng, sp.index, sp.line); err != nil {
			return err
		}
	}
	for _, sp := range parts {
		if r.p.wasHandled(sp.index, sp.line) {
			return nil // a delete was refused; it is retried later
		}
	}
	if c, ok := r.p.h.(Confirmer); ok {
		c.HandleDeleted(ctx, m)
	}
	return nil
}

// releaseHeld schedules a sweep for the parts held back because they
// collided with the message just delivered.
func (r *receiver) releaseHeld(parts []*storedPart) {
	key, ok := concatKeyOf(parts[0].pdu)
	if !ok {
		return
	}
	released := false
	for idx, k := range r.held {
		if k == key {
			delete(r.held, idx)
			released = true
		}
	}
	if released && r.resweep.IsZero() {
		r.resweep = r.p.now()
	}
}

// decodeText decodes a message's parts; an incomplete one part by part.
func decodeText(segs []*tpdu.TPDU, incomplete bool) (string, error) {
	if !incomplete {
		b, err := sms.Decode(segs)
		return string(b), err
	}
	var out strings.Builder
	for i, s := range segs {
		if i > 0 {
			out.WriteString(" […] ")
		}
		b, err := sms.Decode([]*tpdu.TPDU{s})
		if err != nil {
			return "", err
		}
		out.Write(b)
	}
	return out.String(), nil
}

// renderData shows 8-bit data readably: as text if it is printable ASCII,
// else as hex.
func renderData(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return "0x" + hex.EncodeToString(b)
		}
	}
	return string(b)
}

// malformed hands an undecodable PDU over and deletes it once kept.
func (r *receiver) malformed(ctx context.Context, eng *engine, idx int, line string, raw []byte, cause error) error {
	r.p.stats.mu.Lock()
	r.p.stats.malformed++
	r.p.stats.mu.Unlock()
	r.p.log.Warn("malformed PDU", "phone", r.p.cfg.ID, "index", idx, "err", cause)
	if err := r.p.h.HandleMalformed(ctx, r.p.cfg.ID, idx, raw, cause); err != nil {
		r.failed[idx] = r.p.now()
		return nil
	}
	return r.delete(ctx, eng, idx, line)
}

// delete removes one slot whose content (line) was handed over. If the
// delete fails the phone remembers the slot and its content, so that the
// next read or sweep deletes it instead of offering it again.
func (r *receiver) delete(ctx context.Context, eng *engine, idx int, line string) error {
	lines, err := r.p.cmd(ctx, eng, "+CMGD="+strconv.Itoa(idx))
	r.p.countJunk(len(lines)) // +CMGD answers nothing but its result code
	if err == nil || invalidIndex(err) {
		r.p.setHandled(idx, "") // deleted, or already gone
		if r.swept != nil {
			r.swept[idx] = true
		}
		return nil
	}
	r.p.setHandled(idx, line)
	var cms *CMSError
	if errors.As(err, &cms) {
		// The modem refused (busy, SIM not ready): delete it later.
		r.sweepSoon(err)
		return nil
	}
	return err
}

// cmsInvalidIndex is +CMS ERROR 321, "invalid memory index": the slot is
// empty.
const cmsInvalidIndex = 321

// invalidIndex reports whether err says the slot holds nothing. Other
// +CMS errors (314 SIM busy, 500 unknown) say nothing about the slot.
func invalidIndex(err error) bool {
	var cms *CMSError
	return errors.As(err, &cms) && cms.Code == cmsInvalidIndex
}

// report builds a StatusReport from an SMS-STATUS-REPORT.
func (r *receiver) report(t *tpdu.TPDU, idx int) *StatusReport {
	return &StatusReport{Phone: r.p.cfg.ID, Ref: int(t.MR), Recipient: t.RA.Number(), ST: int(t.ST), Class: ClassOf(int(t.ST)),
		SCTS: t.SCTS.Time, Discharge: t.DT.Time, Index: idx}
}

// directReport handles a +CDS report and, once the handler accepted it,
// acknowledges it.
func (r *receiver) directReport(ctx context.Context, eng *engine, hexPDU string) error {
	pm, err := pdumode.UnmarshalHexString(hexPDU)
	var t *tpdu.TPDU
	if err == nil {
		t, err = sms.Unmarshal(pm.TPDU)
	}
	if err != nil || t.SmsType() != tpdu.SmsStatusReport {
		r.p.countJunk(1)
		return nil
	}
	if err := r.p.h.HandleStatusReport(ctx, r.report(t, -1)); err != nil {
		// Not acknowledged: the network may send it again.
		r.p.log.Warn("+CDS report not accepted; not acknowledged", "phone", r.p.cfg.ID, "err", err)
		return nil
	}
	_, _ = r.p.cmd(ctx, eng, "+CNMA")
	return nil
}

// directMessage handles a +CMT message routed without storage. The driver
// asks for storage (+CNMI mode 2,1), so this happens only on modems that
// ignore it. Unlike github.com/warthog618/modem's gsm layer, which
// acknowledges +CMT before its caller has the message, the acknowledgement
// (+CNMA) is sent only once the handler accepted it; a refused message is
// not acknowledged, so the network delivers it again. The parts of a
// concatenated message routed this way cannot stay on the modem: each is
// handed over alone, flagged Incomplete when it is one part of several.
func (r *receiver) directMessage(ctx context.Context, eng *engine, hexPDU string) error {
	line := strings.ToUpper(strings.TrimSpace(hexPDU))
	pm, t, err := decodeStored(line)
	if err != nil || t.SmsType() != tpdu.SmsDeliver {
		r.p.countJunk(1)
		r.p.log.Warn("undecodable +CMT message", "phone", r.p.cfg.ID, "pdu", line, "err", err)
		return nil
	}
	total := 1
	if segs, seq, _, ok := t.ConcatInfo(); ok {
		if err := checkSequence(segs, seq); err != nil {
			return r.directMalformed(ctx, eng, line, err)
		}
		total = segs
	}
	m, err := r.message([]*storedPart{{index: -1, seq: 1, line: line, tpdu: pm.TPDU, pdu: t}}, total, total > 1)
	if err != nil {
		r.p.countJunk(1)
		r.p.log.Warn("undecodable +CMT message", "phone", r.p.cfg.ID, "pdu", line, "err", err)
		return nil
	}
	m.Storage, m.Indexes = "", nil
	if err := r.p.h.HandleSMS(ctx, m); err != nil {
		r.p.log.Warn("+CMT message not accepted; not acknowledged", "phone", r.p.cfg.ID, "err", err)
		return nil
	}
	_, _ = r.p.cmd(ctx, eng, "+CNMA")
	return nil
}

// directMalformed hands over a +CMT message that is not one (a part out of
// range), as a malformed PDU of index -1, and acknowledges it once kept.
func (r *receiver) directMalformed(ctx context.Context, eng *engine, line string, cause error) error {
	r.p.stats.mu.Lock()
	r.p.stats.malformed++
	r.p.stats.mu.Unlock()
	r.p.log.Warn("malformed +CMT message", "phone", r.p.cfg.ID, "err", cause)
	raw, _ := hex.DecodeString(line)
	if err := r.p.h.HandleMalformed(ctx, r.p.cfg.ID, -1, raw, cause); err != nil {
		r.p.log.Warn("malformed +CMT message not kept; not acknowledged", "phone", r.p.cfg.ID, "err", err)
		return nil
	}
	_, _ = r.p.cmd(ctx, eng, "+CNMA")
	return nil
}

// parseStorageIndex reads `+CMTI: "SM",3`.
func parseStorageIndex(line string) (string, int, bool) {
	v := line[strings.Index(line, ":")+1:]
	parts := strings.Split(v, ",")
	if len(parts) < 2 {
		return "", 0, false
	}
	idx, err := strconv.Atoi(strings.TrimSpace(parts[len(parts)-1]))
	if err != nil {
		return "", 0, false
	}
	return strings.Trim(strings.TrimSpace(parts[0]), `"`), idx, true
}

// parseCLIP reads the number of `+CLIP: "+33612345678",145,,,,0`; "" when
// withheld.
func parseCLIP(line string) string {
	v := strings.TrimSpace(line[len("+CLIP:"):])
	if !strings.HasPrefix(v, `"`) {
		return ""
	}
	end := strings.Index(v[1:], `"`)
	if end < 0 {
		return ""
	}
	num := v[1 : 1+end]
	rest := v[1+end+1:]
	if strings.HasPrefix(rest, ",145") && num != "" && !strings.HasPrefix(num, "+") {
		num = "+" + num
	}
	return num
}

// decodeStored decodes a PDU as +CMGR/+CMGL show it: the SMSC address, then
// an SMS-DELIVER or SMS-STATUS-REPORT TPDU.
func decodeStored(hexPDU string) (*pdumode.PDU, *tpdu.TPDU, error) {
	pm, err := pdumode.UnmarshalHexString(strings.TrimSpace(hexPDU))
	if err != nil {
		return nil, nil, err
	}
	t, err := sms.Unmarshal(pm.TPDU)
	if err != nil {
		return nil, nil, err
	}
	return pm, t, nil
}

// parseCPMS reads the used and total counts of storage n (0-2) from a
// +CPMS answer, in either form: the query's (with storage names) or the
// set command's (counts only).
func parseCPMS(line string, n int) (used, total int, ok bool) {
	var nums []int
	for _, f := range strings.Split(line[strings.Index(line, ":")+1:], ",") {
		f = strings.TrimSpace(f)
		if strings.HasPrefix(f, `"`) {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil {
			return 0, 0, false
		}
		nums = append(nums, v)
	}
	if len(nums) < 2 {
		return 0, 0, false
	}
	if 2*n+1 >= len(nums) {
		n = len(nums)/2 - 1
	}
	return nums[2*n], nums[2*n+1], true
}
