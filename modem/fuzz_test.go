package modem

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/warthog618/sms/encoding/tpdu"
)

// FuzzDecodeStored feeds arbitrary PDU text to the decode path the receiver
// uses; it must never panic, whatever a broken modem or network stores.
func FuzzDecodeStored(f *testing.F) {
	f.Add("07913306091093F0040B913316325476F80000621122915522000FEB329C0E7ABB41747419344D3601")
	f.Add("0006D60B911326880736F4111011719551401110117195714000")
	f.Add("00")
	f.Fuzz(func(t *testing.T, s string) {
		_, d, err := decodeStored(s)
		if err != nil {
			return
		}
		if d.SmsType() == tpdu.SmsDeliver {
			r := &receiver{p: &Phone{cfg: Config{ID: 1}.withDefaults()}}
			sp := &storedPart{index: 1, seq: 1, line: s, pdu: d}
			if m, err := r.message([]*storedPart{sp}, 1, false); err == nil && m.Encoding == "" {
				t.Errorf("a decoded message without an encoding")
			}
			_, _ = r.message([]*storedPart{sp, sp}, 3, true)
			_, _, _, _ = d.ConcatInfo()
		}
	})
}

// FuzzLines runs every line parser on arbitrary input: the classification
// of a line and the parsing of the indications the driver acts on.
func FuzzLines(f *testing.F) {
	for _, s := range []string{`+CMTI: "SM",3`, `+CLIP: "+33612345678",145,,,,0`, "+CREG: 0,1", "+CMS ERROR: 321", "RING", `+CLIP: "`, "+CDSI:", "\xff\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		line = clean([]byte(line))
		_, _ = final(line)
		_ = isURC(line, "+CSQ:")
		if strings.HasPrefix(line, "+CMTI:") || strings.HasPrefix(line, "+CDSI:") {
			_, _, _ = parseStorageIndex(line)
		}
		if strings.HasPrefix(line, "+CLIP:") {
			_ = parseCLIP(line)
		}
		if strings.HasPrefix(line, "+CREG:") {
			_ = registrationName(line)
		}
	})
}

// FuzzUSSD runs the +CUSD parser and decoder on arbitrary answers and
// coding schemes: they never panic, and every text they decode is valid
// UTF-8.
func FuzzUSSD(f *testing.F) {
	for _, s := range []string{`+CUSD: 0,"Your balance is 12.50 EUR",15`, `+CUSD: 0,"D9775D0E1287D961F7B80C4ACF413199AB060315AB52",15`,
		`+CUSD: 0,"041204300448002004310430043B0430043D0441003A002000310032002C00350030002020AC",72`, "+CUSD: 4",
		`+CUSD: 0,"653700480069002020AC",17`, `+CUSD: 1,"1. Balance` + "\n" + `2. Data",15`, `+CUSD: 0,"1B",16`, `+CUSD: 0,"\xff\xfe",68`} {
		f.Add(s, 15)
	}
	f.Fuzz(func(t *testing.T, line string, dcs int) {
		_ = cusdComplete(line)
		c, ok := parseCUSD(line)
		if !ok {
			c.str = line
		}
		for _, d := range []int{c.dcs, dcs, dcs & 0xFF} {
			if text := decodeUSSD(c.str, d); !utf8.ValidString(text) {
				t.Errorf("dcs %d: %q decoded to invalid UTF-8 %q", d, c.str, text)
			}
		}
	})
}

// chunkReader hands out its data in small reads, then io.EOF.
type chunkReader struct{ data []byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 7)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func (c *chunkReader) Write(p []byte) (int, error) { return len(p), nil }

// FuzzReader feeds arbitrary bytes to the engine's reader: it must not
// panic or hang, and every indication it queues is a clean, non-empty
// line the dispatcher can parse.
func FuzzReader(f *testing.F) {
	f.Add([]byte("\r\nRING\r\n\r\n+CLIP: \"+33612345678\",145\r\n"))
	f.Add([]byte("\r\n+CMT: ,24\r\n0791\r\n> \r\nOK\r\n"))
	f.Add([]byte("\xff\x00\r\r\n+CMTI: \"SM\",\r\n"))
	f.Add([]byte("\r\n+CUSD: 1,\"1. Balance\r\n2. Data\",15\r\n\r\n+CUSD: 0,\"open\r\nOK\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := newEngine(&chunkReader{data: data}, nil)
		select {
		case <-e.dead:
		case <-time.After(5 * time.Second):
			t.Fatal("the reader did not stop at EOF")
		}
		for {
			u, ok := e.urcs.pop()
			if !ok {
				break
			}
			if u.line == "" || u.line != strings.TrimSpace(u.line) {
				t.Errorf("queued indication %q", u.line)
			}
			if strings.HasPrefix(u.line, "+CMTI:") {
				_, _, _ = parseStorageIndex(u.line)
			}
			if strings.HasPrefix(u.line, "+CLIP:") {
				_ = parseCLIP(u.line)
			}
		}
		e.drain()
	})
}

// fuzzSenders are the originators of FuzzReassembly's parts.
var fuzzSenders = [4]string{alice, bob, "+33633333333", alice}

// fuzzPart reads one part from 5 bytes: flags (sender, 16-bit reference,
// alphabet, no header, undecodable, sweep after it), reference, count,
// sequence number and text. Counts and sequence numbers are small, so that
// parts collide, unless their top bit asks for a large one.
func fuzzPart(b []byte, pos int) (p part, sweep bool) {
	num := func(c byte) int {
		if c&0x80 != 0 {
			return int(c)
		}
		return int(c & 0x07)
	}
	p = part{from: fuzzSenders[b[0]&3], ref16: b[0]&4 != 0, ref: int(b[1] & 3), count: num(b[2]), seq: num(b[3]),
		noConcat: b[0]&0x20 != 0, garbage: b[0]&0x40 != 0}
	p.text = fmt.Sprintf("p%d ", pos)
	if b[4]&1 != 0 {
		p.text = "same " // identical parts: network resends
	}
	switch (b[0] >> 3) & 3 {
	case 1:
		p.dcs = 0x04 // 8-bit data
	case 2:
		p.dcs = 0x08 // UCS-2
		p.text = "\x00" + string(rune('a'+pos%26))
		if b[4]&2 != 0 {
			p.text = "\xd8\x00" // half a surrogate pair: does not decode
		}
	}
	return p, b[0]&0x80 != 0
}

// FuzzReassembly stores a sequence of parts (genuine, out of range, with
// disagreeing counts, repeated, undecodable) and reads each as its +CMTI
// would, with sweeps in between, then lets every waiting message go. At
// every step each part is in exactly one place: in one message, kept as
// malformed, waiting, held back, or deleted as a repeat of another; no
// message holds a part out of its range or of another message; a part
// with nothing wrong is never malformed; and in the end the SIM is empty.
func FuzzReassembly(f *testing.F) {
	f.Add(byte(0), []byte{0, 1, 2, 1, 0, 0, 1, 2, 200, 0, 0, 1, 2, 2, 0})                 // 1/2, "200 of 2", 2/2
	f.Add(byte(0), []byte{0, 1, 2, 0, 0, 0, 1, 2, 1, 0, 0, 1, 2, 2, 0})                   // "0 of 2", 1/2, 2/2
	f.Add(byte(0), []byte{0, 1, 2, 1, 0, 0, 1, 3, 2, 0, 0, 1, 2, 2, 0})                   // 1/2, "2 of 3", 2/2
	f.Add(byte(0), []byte{0, 1, 0, 1, 0, 0, 1, 1, 2, 0, 4, 1, 3, 3, 0})                   // count 0, "2 of 1", 16-bit "3 of 3"
	f.Add(byte(4), []byte{0, 1, 3, 1, 0, 1, 1, 3, 1, 0, 2, 1, 3, 1, 0, 0, 1, 3, 2, 0})    // three senders, a small SIM
	f.Add(byte(0), []byte{0, 1, 2, 1, 1, 0, 1, 2, 1, 1, 0x80, 1, 2, 2, 1})                // a repeated part, a sweep
	f.Add(byte(0), []byte{0x10, 1, 2, 2, 2, 0x10, 1, 2, 1, 0, 0x40, 0, 0, 0, 0})          // UCS-2 that does not decode, garbage
	f.Add(byte(0), []byte{0, 1, 2, 1, 0, 0, 1, 2, 1, 0, 0, 1, 2, 2, 0, 0, 1, 2, 2, 0})    // a reused reference, interleaved
	f.Add(byte(3), []byte{0, 1, 4, 1, 0, 0, 2, 4, 1, 0, 0, 3, 4, 1, 0, 0x20, 0, 0, 0, 0}) // a SIM full of waiting parts
	f.Fuzz(func(t *testing.T, capacity byte, data []byte) {
		capacity %= 12
		if capacity > 0 && capacity < 2 {
			capacity = 2
		}
		r, eng, sim, rec := newTestReceiver(t, int(capacity))
		ctx := context.Background()
		parts := map[int]part{}  // by slot
		reject := map[int]bool{} // slots that must never be in a message
		for pos := 0; pos+5 <= len(data) && pos < 5*40; pos += 5 {
			p, sweep := fuzzPart(data[pos:pos+5], pos/5)
			if capacity > 0 && len(sim.left()) >= int(capacity) {
				continue // the network keeps it until there is room
			}
			idx := sim.store(p.encode(t))
			parts[idx] = p
			if rejectable(r, p) {
				reject[idx] = true
			}
			if err := r.read(ctx, eng, idx); err != nil {
				t.Fatalf("read: %v", err)
			}
			checkReassembly(t, r, sim, rec, parts, reject, false)
			// As the phone's loop does when a sweep is due (parts held
			// back are released), or at its safety sweep.
			if sweep || !r.resweep.IsZero() && !r.p.now().Before(r.resweep) {
				if err := r.sweep(ctx, eng); err != nil {
					t.Fatalf("sweep: %v", err)
				}
			}
			checkReassembly(t, r, sim, rec, parts, reject, false)
		}
		// Let every waiting message go, as its timeout would.
		for range 2*len(parts) + 2 {
			if !r.resweep.IsZero() {
				if err := r.sweep(ctx, eng); err != nil {
					t.Fatalf("sweep: %v", err)
				}
				checkReassembly(t, r, sim, rec, parts, reject, false)
			}
			if r.pendingParts() == 0 && len(r.held) == 0 && r.resweep.IsZero() {
				break
			}
			if err := r.flushOldest(ctx, eng); err != nil {
				t.Fatalf("flush: %v", err)
			}
			checkReassembly(t, r, sim, rec, parts, reject, false)
		}
		checkReassembly(t, r, sim, rec, parts, reject, true)
	})
}

// checkReassembly checks FuzzReassembly's invariants; drained says every
// waiting message should have gone.
func checkReassembly(t *testing.T, r *receiver, sim *fakeSIM, rec *slotRecorder, parts map[int]part, reject map[int]bool, drained bool) {
	t.Helper()
	if st := r.p.Stats(); st.Timeouts != 0 || st.Junk != 0 {
		t.Fatalf("the fake SIM's answers timed out or were junk: %+v", st)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	where := map[int][]string{}
	for _, m := range rec.msgs {
		for _, idx := range m.Indexes {
			where[idx] = append(where[idx], "message")
		}
		checkMessage(t, m, parts)
	}
	malformed := map[int]bool{}
	for _, idx := range rec.malformedAt {
		where[idx] = append(where[idx], "malformed")
		malformed[idx] = true
	}
	for _, sps := range r.pending {
		for _, sp := range sps {
			where[sp.index] = append(where[sp.index], "waiting")
		}
	}
	for idx := range r.held {
		where[idx] = append(where[idx], "held")
	}
	stored := map[int]bool{}
	for _, idx := range sim.left() {
		stored[idx] = true
	}
	for idx, p := range parts {
		places := where[idx]
		switch {
		case len(places) > 1:
			t.Fatalf("part %+v (slot %d) is in %v", p, idx, places)
		case len(places) == 1 && places[0] != "waiting" && places[0] != "held" && stored[idx]:
			t.Fatalf("part %+v (slot %d) still stored, but %s", p, idx, places[0])
		case len(places) == 0 && stored[idx] && r.resweep.IsZero():
			t.Fatalf("part %+v (slot %d) stored, but neither waiting nor held, and no sweep is due", p, idx)
		case len(places) == 0 && stored[idx]:
			// Released for the sweep that is due.
		case len(places) == 0 && !repeatOf(idx, p, parts, where):
			t.Fatalf("part %+v (slot %d) deleted, yet in no message, not malformed, and repeats no other part", p, idx)
		}
		if reject[idx] && len(places) == 1 && places[0] == "message" {
			t.Fatalf("part %+v (slot %d) is in a message", p, idx)
		}
		if malformed[idx] && !mayBeMalformed(p, parts) {
			t.Fatalf("part %+v (slot %d) is malformed (%v)", p, idx, rec.causes)
		}
	}
	if drained && (r.pendingParts() != 0 || len(r.held) != 0 || len(stored) != 0) {
		t.Fatalf("%d parts waiting, %d held, %d slots stored after every message went", r.pendingParts(), len(r.held), len(stored))
	}
}

// checkMessage checks that a message's parts are of one message, in
// range, each once, in order, and all there unless it is incomplete.
func checkMessage(t *testing.T, m *Message, parts map[int]part) {
	t.Helper()
	if len(m.Indexes) != len(m.PDUs) || len(m.PDUs) == 0 || len(m.PDUs) > m.Parts {
		t.Fatalf("message of %d parts with %d PDUs and slots %v", m.Parts, len(m.PDUs), m.Indexes)
	}
	if !m.Incomplete && len(m.PDUs) != m.Parts {
		t.Fatalf("complete message of %d parts with %d", m.Parts, len(m.PDUs))
	}
	first := parts[m.Indexes[0]]
	last := 0
	for _, idx := range m.Indexes {
		p := parts[idx]
		if p.garbage || p.from != first.from {
			t.Fatalf("message from %s holds part %+v", first.from, p)
		}
		if m.Parts == 1 && (p.noConcat || p.count == 1 && p.seq == 1) {
			continue
		}
		if p.noConcat || p.count != m.Parts || p.ref != first.ref || p.seq < 1 || p.seq > p.count || p.seq <= last {
			t.Fatalf("message of %d parts (reference %d) holds part %+v after part %d", m.Parts, first.ref, p, last)
		}
		last = p.seq
	}
}

// rejectable reports whether a part about to be read must be rejected:
// its header is out of range, or its count disagrees with the waiting
// parts of the same sender and reference.
func rejectable(r *receiver, p part) bool {
	if p.garbage || p.noConcat {
		return false
	}
	if checkSequence(p.count, p.seq) != nil {
		return true
	}
	for key := range r.pending {
		if key.from == p.from && key.ref == p.ref && key.total != p.count {
			return true
		}
	}
	return false
}

// repeatOf reports whether a deleted part is a copy of another part
// (same sender, reference, count, sequence number and text) that is in a
// message, malformed or waiting.
func repeatOf(idx int, p part, parts map[int]part, where map[int][]string) bool {
	for other, q := range parts {
		if other != idx && len(where[other]) > 0 && !q.noConcat && !p.noConcat && q.from == p.from && q.ref == p.ref &&
			q.count == p.count && q.seq == p.seq && q.text == p.text && q.dcs == p.dcs && q.ref16 == p.ref16 {
			return true
		}
	}
	return false
}

// mayBeMalformed reports whether a part can rightly be malformed: it is
// garbage, out of range, or its sender and reference are shared by parts
// of another count or of the UCS-2 alphabet (whose messages may not
// decode).
func mayBeMalformed(p part, parts map[int]part) bool {
	if p.garbage || p.dcs == 0x08 {
		return true
	}
	if p.noConcat {
		return false
	}
	if checkSequence(p.count, p.seq) != nil {
		return true
	}
	for _, q := range parts {
		if q.garbage || q.noConcat || q.from != p.from || q.ref != p.ref || checkSequence(q.count, q.seq) != nil {
			continue
		}
		if q.count != p.count || q.dcs == 0x08 {
			return true
		}
	}
	return false
}
