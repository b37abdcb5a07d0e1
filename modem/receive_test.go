package modem

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/modem/modemsim"
	"github.com/warthog618/sms/encoding/tpdu"
)

// fakeSIM is an in-memory modem port for the receiver alone: it keeps
// stored PDUs by slot and answers +CMGR, +CMGL=4, +CMGD and +CPMS?, and
// OK to anything else. Its replies go through a pipe to the engine's
// reader, so the receiver runs the code it runs on a real port.
type fakeSIM struct {
	toHost *io.PipeWriter
	host   *io.PipeReader

	mu      sync.Mutex
	slots   map[int]string // stored PDU (SMSC address then TPDU) in hex
	next    int
	cap     int
	cmd     []byte // a command not yet ended by CR
	deleted []int  // slots deleted by +CMGD, in order
	// stray are lines slipped into the answers of commands with these
	// prefixes (junk on the line while they are in flight).
	stray map[string]string
}

// newFakeSIM returns a fake port with cap slots (0: +CPMS? unanswered) and
// an engine over it; both stop when the test ends.
func newFakeSIM(tb testing.TB, capacity int) (*fakeSIM, *engine) {
	tb.Helper()
	s := &fakeSIM{slots: make(map[int]string), cap: capacity}
	s.host, s.toHost = io.Pipe()
	e := newEngine(s, nil)
	tb.Cleanup(func() {
		s.toHost.Close()
		<-e.dead
	})
	return s, e
}

func (s *fakeSIM) Read(p []byte) (int, error) { return s.host.Read(p) }

func (s *fakeSIM) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.cmd = append(s.cmd, p...)
	var replies []string
	for {
		i := bytes.IndexByte(s.cmd, '\r')
		if i < 0 {
			break
		}
		replies = append(replies, s.answerLocked(strings.TrimSpace(string(s.cmd[:i]))))
		s.cmd = s.cmd[i+1:]
	}
	s.mu.Unlock()
	for _, r := range replies {
		if _, err := io.WriteString(s.toHost, r); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// answerLocked is the reply to one command line.
func (s *fakeSIM) answerLocked(line string) string {
	arg := func(prefix string) (int, bool) {
		n, err := strconv.Atoi(strings.TrimPrefix(line, prefix))
		return n, err == nil && strings.HasPrefix(line, prefix)
	}
	var b strings.Builder
	b.WriteString("\r\n")
	for prefix, l := range s.stray {
		if strings.HasPrefix(line, prefix) {
			b.WriteString(l + "\r\n")
		}
	}
	if idx, ok := arg("AT+CMGR="); ok {
		pdu, ok := s.slots[idx]
		if !ok {
			return "\r\n+CMS ERROR: 321\r\n"
		}
		fmt.Fprintf(&b, "+CMGR: 0,,%d\r\n%s\r\n", len(pdu)/2-1, pdu)
	}
	if line == "AT+CMGL=4" {
		idxs := make([]int, 0, len(s.slots))
		for i := range s.slots {
			idxs = append(idxs, i)
		}
		sort.Ints(idxs)
		for _, i := range idxs {
			fmt.Fprintf(&b, "+CMGL: %d,0,,%d\r\n%s\r\n", i, len(s.slots[i])/2-1, s.slots[i])
		}
	}
	if idx, ok := arg("AT+CMGD="); ok {
		if _, ok := s.slots[idx]; !ok {
			return "\r\n+CMS ERROR: 321\r\n"
		}
		delete(s.slots, idx)
		s.deleted = append(s.deleted, idx)
	}
	if line == "AT+CPMS?" && s.cap > 0 {
		fmt.Fprintf(&b, "+CPMS: \"SM\",%d,%d,\"SM\",%d,%d,\"SM\",%d,%d\r\n", len(s.slots), s.cap, len(s.slots), s.cap, len(s.slots), s.cap)
	}
	b.WriteString("OK\r\n")
	return b.String()
}

// store puts a TPDU in the next free slot, as the network would, and
// returns the slot.
func (s *fakeSIM) store(tpduBytes []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		s.next++
		if _, used := s.slots[s.next]; !used {
			break
		}
	}
	s.slots[s.next] = "00" + strings.ToUpper(hex.EncodeToString(tpduBytes))
	return s.next
}

// left returns the slots still stored.
func (s *fakeSIM) left() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for i := range s.slots {
		out = append(out, i)
	}
	sort.Ints(out)
	return out
}

// slotRecorder is a recorder that also keeps the slot of each malformed PDU.
type slotRecorder struct {
	recorder
	malformedAt []int
	causes      []error
}

func (r *slotRecorder) HandleMalformed(ctx context.Context, phone, idx int, pdu []byte, cause error) error {
	r.mu.Lock()
	r.malformedAt = append(r.malformedAt, idx)
	r.causes = append(r.causes, cause)
	r.mu.Unlock()
	return r.recorder.HandleMalformed(ctx, phone, idx, pdu, cause)
}

// newTestReceiver returns a receiver on a fake SIM of capacity slots.
func newTestReceiver(tb testing.TB, capacity int) (*receiver, *engine, *fakeSIM, *slotRecorder) {
	tb.Helper()
	sim, eng := newFakeSIM(tb, capacity)
	rec := &slotRecorder{}
	p := NewPhone(Config{ID: 1, CommandTimeout: 3 * time.Second}, rec)
	p.capacity = capacity
	return newReceiver(p), eng, sim, rec
}

// part describes one SMS-DELIVER part with a concatenation header, whatever
// its numbers (the network's encoder would refuse the broken ones).
type part struct {
	from              string
	ref, count, seq   int
	ref16             bool     // a 16-bit reference information element
	dcs               tpdu.DCS // 0: GSM 7-bit
	text              string   // the user data as is (septets for GSM 7-bit)
	noConcat, garbage bool     // no header at all; bytes that do not decode
}

// scts is the service centre time stamp of the test parts: recent, so
// that no incomplete message times out during a test.
var scts = time.Now().Truncate(time.Second)

// encode returns the part's TPDU.
func (p part) encode(tb testing.TB) []byte {
	tb.Helper()
	if p.garbage {
		return []byte{0x04, 0x0B, 0x91, 0x33}
	}
	d, err := tpdu.NewDeliver()
	if err != nil {
		tb.Fatal(err)
	}
	d.OA = tpdu.NewAddress(tpdu.FromNumber(p.from))
	d.SCTS = tpdu.Timestamp{Time: scts}
	d.DCS = p.dcs
	if !p.noConcat {
		ie := tpdu.InformationElement{ID: 0, Data: []byte{byte(p.ref), byte(p.count), byte(p.seq)}}
		if p.ref16 {
			ie = tpdu.InformationElement{ID: 8, Data: []byte{byte(p.ref >> 8), byte(p.ref), byte(p.count), byte(p.seq)}}
		}
		d.SetUDH(tpdu.UserDataHeader{ie})
	}
	d.UD = []byte(p.text) // GSM 7-bit septets: ASCII letters and spaces are themselves
	b, err := d.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

const (
	alice = "+33611111111"
	bob   = "+33622222222"
)

// TestConcatSequenceChecked: a part whose sequence number is 0 or above
// its count, whose count is 0, or whose count disagrees with the waiting
// parts of the same sender and reference is malformed: it goes to
// HandleMalformed, is never joined to a message, and the genuine parts
// still join into one complete message. The old receiver joined "200 of
// 2" with part 1 and left the genuine part 2 waiting alone.
func TestConcatSequenceChecked(t *testing.T) {
	tests := []struct {
		name      string
		parts     []part
		want      []string // message texts, all complete, in delivery order
		malformed []int    // positions in parts of those handed to HandleMalformed
	}{
		{"sequence above the count", []part{
			{from: alice, ref: 7, count: 2, seq: 1, text: "Hello "},
			{from: alice, ref: 7, count: 2, seq: 200, text: "bogus"},
			{from: alice, ref: 7, count: 2, seq: 2, text: "world"},
		}, []string{"Hello world"}, []int{1}},
		{"sequence above the count, 16-bit reference", []part{
			{from: alice, ref: 700, count: 2, seq: 1, text: "Hello ", ref16: true},
			{from: alice, ref: 700, count: 2, seq: 3, text: "bogus", ref16: true},
			{from: alice, ref: 700, count: 2, seq: 2, text: "world", ref16: true},
		}, []string{"Hello world"}, []int{1}},
		{"sequence 0", []part{
			{from: alice, ref: 7, count: 2, seq: 0, text: "bogus"},
			{from: alice, ref: 7, count: 2, seq: 1, text: "Hello "},
			{from: alice, ref: 7, count: 2, seq: 2, text: "world"},
		}, []string{"Hello world"}, []int{0}},
		{"the bad part last", []part{
			{from: alice, ref: 7, count: 3, seq: 3, text: "three"},
			{from: alice, ref: 7, count: 3, seq: 1, text: "one "},
			{from: alice, ref: 7, count: 3, seq: 2, text: "two "},
			{from: alice, ref: 7, count: 3, seq: 4, text: "bogus"},
		}, []string{"one two three"}, []int{3}},
		{"count 0", []part{
			{from: alice, ref: 7, count: 0, seq: 1, text: "bogus"},
			{from: alice, ref: 7, count: 2, seq: 1, text: "Hello "},
			{from: alice, ref: 7, count: 2, seq: 2, text: "world"},
		}, []string{"Hello world"}, []int{0}},
		{"count 0, sequence 0", []part{
			{from: alice, ref: 7, count: 0, seq: 0, text: "bogus"},
		}, nil, []int{0}},
		{"count 1, sequence 2", []part{
			{from: alice, ref: 7, count: 1, seq: 2, text: "bogus"},
		}, nil, []int{0}},
		{"count disagrees with the waiting parts", []part{
			{from: alice, ref: 7, count: 2, seq: 1, text: "Hello "},
			{from: alice, ref: 7, count: 3, seq: 2, text: "bogus"},
			{from: alice, ref: 7, count: 2, seq: 2, text: "world"},
		}, []string{"Hello world"}, []int{1}},
		{"a bad part sets no count for the rest", []part{
			{from: alice, ref: 7, count: 3, seq: 9, text: "bogus"},
			{from: alice, ref: 7, count: 2, seq: 1, text: "Hello "},
			{from: alice, ref: 7, count: 2, seq: 2, text: "world"},
		}, []string{"Hello world"}, []int{0}},
		{"same reference, another sender, another count", []part{
			{from: alice, ref: 7, count: 2, seq: 1, text: "Hello "},
			{from: bob, ref: 7, count: 3, seq: 1, text: "one "},
			{from: alice, ref: 7, count: 2, seq: 2, text: "world"},
			{from: bob, ref: 7, count: 3, seq: 3, text: "three"},
			{from: bob, ref: 7, count: 3, seq: 2, text: "two "},
		}, []string{"Hello world", "one two three"}, nil},
		{"reference reused with another count once delivered", []part{
			{from: alice, ref: 7, count: 2, seq: 1, text: "Hello "},
			{from: alice, ref: 7, count: 2, seq: 2, text: "world"},
			{from: alice, ref: 7, count: 3, seq: 1, text: "one "},
			{from: alice, ref: 7, count: 3, seq: 2, text: "two "},
			{from: alice, ref: 7, count: 3, seq: 3, text: "three"},
		}, []string{"Hello world", "one two three"}, nil},
		{"a message that does not decode is kept whole", []part{
			{from: alice, ref: 7, count: 2, seq: 2, text: "\xd8\x00", dcs: 0x08}, // UCS-2 ending in half a surrogate pair
			{from: alice, ref: 7, count: 2, seq: 1, text: "\x00H\x00i", dcs: 0x08},
		}, nil, []int{1, 0}},
		{"count 1, sequence 1 is a message", []part{
			{from: alice, ref: 7, count: 1, seq: 1, text: "alone"},
		}, []string{"alone"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, eng, sim, rec := newTestReceiver(t, 0)
			ctx := context.Background()
			slot := map[int]int{} // storage slot → position in tt.parts
			for i, p := range tt.parts {
				idx := sim.store(p.encode(t))
				slot[idx] = i
				if err := r.read(ctx, eng, idx); err != nil {
					t.Fatalf("part %d: %v", i, err)
				}
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			var got []string
			for _, m := range rec.msgs {
				got = append(got, m.Text)
				if m.Incomplete || len(m.PDUs) != m.Parts {
					t.Errorf("%q: incomplete %v, %d parts of %d", m.Text, m.Incomplete, len(m.PDUs), m.Parts)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("messages %q, want %q", got, tt.want)
			}
			var bad []int
			for _, idx := range rec.malformedAt {
				bad = append(bad, slot[idx])
			}
			if fmt.Sprint(bad) != fmt.Sprint(tt.malformed) {
				t.Errorf("malformed parts %v (%v), want %v", bad, rec.causes, tt.malformed)
			}
			if n := r.pendingParts(); n != 0 || len(r.held) != 0 {
				t.Errorf("%d parts still waiting, %d held", n, len(r.held))
			}
			if left := sim.left(); len(left) != 0 {
				t.Errorf("slots %v left on the SIM", left)
			}
		})
	}
}

// TestConcatSequenceCheckedEndToEnd injects broken parts between genuine
// ones through the simulated modem: each broken part is handed to
// HandleMalformed, the genuine parts come up as one complete message, and
// the SIM ends empty.
func TestConcatSequenceCheckedEndToEnd(t *testing.T) {
	tests := []struct {
		name  string
		parts []part // the broken part is the second
	}{
		{"sequence above the count", []part{
			{from: alice, ref: 9, count: 2, seq: 1, text: "Hello "},
			{from: alice, ref: 9, count: 2, seq: 200, text: "bogus"},
			{from: alice, ref: 9, count: 2, seq: 2, text: "world"},
		}},
		{"sequence 0", []part{
			{from: alice, ref: 9, count: 2, seq: 1, text: "Hello "},
			{from: alice, ref: 9, count: 2, seq: 0, text: "bogus"},
			{from: alice, ref: 9, count: 2, seq: 2, text: "world"},
		}},
		{"count disagrees", []part{
			{from: alice, ref: 9, count: 2, seq: 1, text: "Hello "},
			{from: alice, ref: 9, count: 5, seq: 2, text: "bogus"},
			{from: alice, ref: 9, count: 2, seq: 2, text: "world"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := modemsim.Start(t, modemsim.Options{})
			rec := &recorder{}
			runPhone(t, m, rec, func(c *Config) { quietly(t, c) })
			eventually(t, 10*time.Second, "phone up", rec.up)
			for _, p := range tt.parts {
				if _, err := m.InjectPDU(p.encode(t)); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, 10*time.Second, "a message and a malformed part", func() bool {
				rec.mu.Lock()
				defer rec.mu.Unlock()
				return len(rec.msgs) >= 1 && len(rec.malformed) >= 1
			})
			eventually(t, 5*time.Second, "an empty SIM", func() bool { return len(m.Stored("SM")) == 0 })
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.msgs) != 1 || rec.msgs[0].Text != "Hello world" || rec.msgs[0].Incomplete {
				for _, msg := range rec.msgs {
					t.Errorf("message %q incomplete %v", msg.Text, msg.Incomplete)
				}
			}
			bogus := strings.ToUpper(hex.EncodeToString(tt.parts[1].encode(t)))
			if len(rec.malformed) != 1 || !strings.HasSuffix(strings.ToUpper(hex.EncodeToString(rec.malformed[0])), bogus) {
				t.Errorf("malformed %X, want one ending in %s", rec.malformed, bogus)
			}
		})
	}
}

// TestDirectPartOutOfRange: on a modem that routes messages directly
// (+CMT) each part is handed over alone; one whose sequence number is out
// of range goes to HandleMalformed (index -1) instead, and is acknowledged
// once kept.
func TestDirectPartOutOfRange(t *testing.T) {
	m := modemsim.Start(t, modemsim.Options{})
	rec := &slotRecorder{}
	runPhone(t, m, rec, func(c *Config) { quietly(t, c); c.Init = []string{"+CNMI=2,2,0,0,0"} })
	eventually(t, 10*time.Second, "phone up", rec.up)
	bogus := part{from: alice, ref: 9, count: 2, seq: 200, text: "bogus"}
	if _, err := m.InjectPDU(bogus.encode(t)); err != nil {
		t.Fatal(err)
	}
	genuine := part{from: alice, ref: 9, count: 2, seq: 1, text: "Hello "}
	if _, err := m.InjectPDU(genuine.encode(t)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "both parts handed over", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.msgs)+len(rec.malformedAt) >= 2
	})
	eventually(t, 5*time.Second, "+CNMA", func() bool { return commandSeen(m, "+CNMA") })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, got := range rec.msgs {
		if got.Text != "Hello " || !got.Incomplete || got.Parts != 2 {
			t.Errorf("message %q incomplete %v parts %d", got.Text, got.Incomplete, got.Parts)
		}
	}
	if len(rec.msgs) != 1 {
		t.Errorf("%d messages, want the genuine part alone", len(rec.msgs))
	}
	if len(rec.malformedAt) != 1 || rec.malformedAt[0] != -1 {
		t.Errorf("malformed at %v (%v), want [-1]", rec.malformedAt, rec.causes)
	}
}

// TestSweepSkipsSlotsItDeleted: a sweep works from one listing. When a
// message it completes (or flushes, the SIM being full) includes a part
// listed further on, that slot is deleted before the sweep reaches it; the
// old receiver read it again from the listing and kept a ghost part
// waiting, later handed over a second time.
func TestSweepSkipsSlotsItDeleted(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		parts    []part
		read     []bool // whether each part's +CMTI came through
		want     []string
	}{
		{"the indication of part 1 was lost", 0, []part{
			{from: alice, ref: 3, count: 2, seq: 1, text: "Hello "},
			{from: alice, ref: 3, count: 2, seq: 2, text: "world"},
		}, []bool{false, true}, []string{"Hello world"}},
		{"a full SIM flushed during the sweep", 2, []part{
			{from: alice, ref: 3, count: 3, seq: 1, text: "one "},
			{from: alice, ref: 3, count: 3, seq: 2, text: "two "},
		}, []bool{false, true}, []string{"one  […] two "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, eng, sim, rec := newTestReceiver(t, tt.capacity)
			ctx := context.Background()
			for i, p := range tt.parts {
				idx := sim.store(p.encode(t))
				if tt.read[i] {
					if err := r.read(ctx, eng, idx); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := r.sweep(ctx, eng); err != nil {
				t.Fatal(err)
			}
			if n := r.pendingParts(); n != 0 {
				t.Errorf("%d parts waiting after the sweep, with an empty SIM", n)
			}
			for r.pendingParts() > 0 {
				if err := r.flushOldest(ctx, eng); err != nil {
					t.Fatal(err)
				}
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			var got []string
			for _, m := range rec.msgs {
				got = append(got, m.Text)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("messages %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRepeatedPart: a part that repeats a waiting one byte for byte (a
// network resend) is deleted, the message coming up once; a part with the
// same numbers and user data in another alphabet is another message's
// part, not a repeat (the old receiver compared the user data alone and
// deleted it unread).
func TestRepeatedPart(t *testing.T) {
	tests := []struct {
		name  string
		parts []part
		want  []string
	}{
		{"a resend", []part{
			{from: alice, ref: 4, count: 2, seq: 1, text: "same "},
			{from: alice, ref: 4, count: 2, seq: 1, text: "same "},
			{from: alice, ref: 4, count: 2, seq: 2, text: "end"},
		}, []string{"same end"}},
		{"the same user data in another alphabet", []part{
			{from: alice, ref: 4, count: 2, seq: 1, text: "same ", dcs: 0x04},
			{from: alice, ref: 4, count: 2, seq: 1, text: "same "},
			{from: alice, ref: 4, count: 2, seq: 2, text: "end", dcs: 0x04},
			{from: alice, ref: 4, count: 2, seq: 2, text: "END"},
		}, []string{"same end", "same END"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, eng, sim, rec := newTestReceiver(t, 0)
			ctx := context.Background()
			for _, p := range tt.parts {
				if err := r.read(ctx, eng, sim.store(p.encode(t))); err != nil {
					t.Fatal(err)
				}
			}
			// The phone's loop sweeps when parts held back are released.
			for range 3 {
				if err := r.sweep(ctx, eng); err != nil {
					t.Fatal(err)
				}
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			var got []string
			for _, m := range rec.msgs {
				got = append(got, m.Text)
				if m.Incomplete {
					t.Errorf("%q incomplete", m.Text)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("messages %q, want %q", got, tt.want)
			}
			if left := sim.left(); len(left) != 0 || r.pendingParts() != 0 {
				t.Errorf("slots %v left, %d parts waiting", left, r.pendingParts())
			}
		})
	}
}

// TestSweepCountsStrayLines: a line that makes no sense, arriving while
// one of the sweep's commands is in flight, is counted as junk whichever
// command it lands in.
func TestSweepCountsStrayLines(t *testing.T) {
	for _, cmd := range []string{"AT+CMGL", "AT+CPMS?"} {
		t.Run(cmd, func(t *testing.T) {
			r, eng, sim, _ := newTestReceiver(t, 30)
			sim.mu.Lock()
			sim.stray = map[string]string{cmd: "[2J>>>"}
			sim.mu.Unlock()
			if err := r.sweep(context.Background(), eng); err != nil {
				t.Fatal(err)
			}
			if got := r.p.Stats().Junk; got != 1 {
				t.Errorf("junk %d after a stray line in the answer to %s, want 1", got, cmd)
			}
		})
	}
}
