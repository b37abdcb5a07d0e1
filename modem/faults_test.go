package modem

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/internal/clock"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/tpdu"
	"go.bug.st/serial"
)

// texts returns how many times each text was handled.
func (r *recorder) texts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, m := range r.msgs {
		out[m.Text]++
	}
	return out
}

// TestFaultsEndWithEveryMessage: a hang, garbage, junk lines and an ERROR
// storm each leave the phone running, and every message injected before,
// during and after the fault comes up exactly once.
func TestFaultsEndWithEveryMessage(t *testing.T) {
	tests := []struct {
		name    string
		counted bool // the fault shows in Stats().Junk
		fault   func(m *modemsim.Modem)
	}{
		{"hang", false, func(m *modemsim.Modem) { m.Hang(1500 * time.Millisecond) }},
		{"garbage", true, func(m *modemsim.Modem) { m.Garbage([]byte("\xff\xfe\x00\x13junk\r\n\x1b[2J>>>\r\n+CMTI\r\n")) }},
		{"junk lines", true, func(m *modemsim.Modem) {
			m.JunkLine(`+CMTI: "SM",nonsense`)
			m.JunkLine("+CLIP")
			m.JunkLine("OK")
			m.JunkLine("+CMS ERROR: 500")
		}},
		{"error storm", false, func(m *modemsim.Modem) { m.ErrorStorm(25) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk, m, rec, p := fakePhone(t, modemsim.Options{Capacity: map[string]int{"SM": 100}}, func(c *Config) {
				c.CommandTimeout = 2 * time.Second
				c.ProbeInterval, c.SweepInterval = 5*time.Second, 20*time.Second
			})
			inject := func(from, to int) {
				for i := from; i < to; i++ {
					if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: fmt.Sprintf("%s %d", tt.name, i)}); err != nil {
						t.Fatal(err)
					}
				}
			}
			inject(0, 5)
			tt.fault(m)
			inject(5, 10)
			faulted := clk.Now()
			drive(t, clk, m, "a moment", func() bool { return clk.Now().Sub(faulted) >= 300*time.Millisecond })
			inject(10, 15)
			drive(t, clk, m, "15 messages", func() bool { return len(rec.texts()) == 15 })
			drive(t, clk, m, "an empty SIM", func() bool { return len(m.Stored("SM")) == 0 })
			seen := rec.texts()
			for i := range 15 {
				if c := seen[fmt.Sprintf("%s %d", tt.name, i)]; c != 1 {
					t.Errorf("message %d came up %d times", i, c)
				}
			}
			drive(t, clk, m, "phone up after the fault", rec.up)
			if _, err := p.Send(testContext(t), "+33600000009", "still works", false); err != nil {
				t.Errorf("send after the fault: %v", err)
			}
			t.Logf("reconnects %d, last error %q, stats %+v", p.State().Reconnects, p.State().LastError, p.Stats())
			if tt.counted && p.Stats().Junk == 0 {
				t.Errorf("the junk was not counted: %+v", p.Stats())
			}
		})
	}
}

// blockingHandler blocks in HandleSMS until its context ends, as an
// agent stopped between receiving a message and committing it.
type blockingHandler struct {
	recorder
	entered chan struct{}
	once    sync.Once
}

func (b *blockingHandler) HandleSMS(ctx context.Context, m *Message) error {
	b.once.Do(func() { close(b.entered) })
	<-ctx.Done()
	return ctx.Err()
}

// TestKillDuringReception stops a phone between receiving a message and
// confirming it; the message stays on the SIM, and a new phone on the same
// modem delivers it on its start-up sweep.
func TestKillDuringReception(t *testing.T) {
	tests := []struct {
		name    string
		handler func() (Handler, <-chan struct{})
	}{
		{"handler returns an error", func() (Handler, <-chan struct{}) {
			r := &recorder{fail: true}
			ch := make(chan struct{})
			close(ch)
			return r, ch
		}},
		{"handler blocks until the context is cancelled", func() (Handler, <-chan struct{}) {
			b := &blockingHandler{entered: make(chan struct{})}
			return b, b.entered
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := modemsim.Start(t, modemsim.Options{})
			h, entered := tt.handler()
			ctx, cancel := context.WithCancel(context.Background())
			cfg := Config{ID: 1, Port: m.Path(), Backoff: Backoff{Initial: 50 * time.Millisecond}}
			quietly(t, &cfg)
			p := NewPhone(cfg, h)
			done := make(chan struct{})
			go func() { _ = p.Run(ctx); close(done) }()
			eventually(t, 10*time.Second, "phone up", func() bool { return p.State().Status == "up" })
			long := strings.Repeat("survives a crash, all three parts of it. ", 8)
			if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: long}); err != nil {
				t.Fatal(err)
			}
			select {
			case <-entered:
			case <-time.After(10 * time.Second):
				t.Fatal("the handler was never called")
			}
			time.Sleep(200 * time.Millisecond)
			cancel()
			<-done
			if n := len(m.Stored("SM")); n != 3 {
				t.Fatalf("%d parts on the SIM after the kill, want 3", n)
			}
			rec := &recorder{}
			runPhone(t, m, rec, func(c *Config) { quietly(t, c) })
			eventually(t, 10*time.Second, "redelivery", func() bool { return rec.count() == 1 })
			if got := rec.msgs[0]; got.Text != long || got.Parts != 3 || got.Incomplete {
				t.Errorf("redelivered %+v", got)
			}
			eventually(t, 5*time.Second, "an empty SIM", func() bool { return len(m.Stored("SM")) == 0 })
		})
	}
}

// deliverParts encodes text as SMS-DELIVER TPDUs from a sender, with a
// given concatenation reference.
func deliverParts(t *testing.T, from, text string, ref int, scts time.Time) [][]byte {
	t.Helper()
	tmpl, err := tpdu.NewDeliver()
	if err != nil {
		t.Fatal(err)
	}
	tmpl.OA = tpdu.NewAddress(tpdu.FromNumber(from))
	tmpl.SCTS = tpdu.Timestamp{Time: scts.Truncate(time.Second)}
	enc := sms.NewEncoder(sms.AsDeliver, sms.WithTemplate(*tmpl))
	enc.ConcatRef = &fixedRef{ref}
	pdus, err := enc.Encode([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for i := range pdus {
		b, err := pdus[i].MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestStorageFullOfIncompleteParts fills the SIM with parts of two
// messages whose other parts have not come: the oldest is delivered as it
// is, flagged, which frees room for the rest of the second.
func TestStorageFullOfIncompleteParts(t *testing.T) {
	m := modemsim.Start(t, modemsim.Options{Capacity: map[string]int{"SM": 5}})
	rec := &recorder{}
	// No sweep during the test: the full storage must be noticed as the
	// parts arrive.
	runPhone(t, m, rec, func(c *Config) { quietly(t, c); c.SweepInterval = time.Hour })
	eventually(t, 10*time.Second, "phone up", rec.up)
	textA := strings.Repeat("A is a long message in ten parts. ", 40)
	textB := strings.Repeat("B has three parts. ", 20)
	a := deliverParts(t, "+33611111111", textA, 7, time.Now())
	b := deliverParts(t, "+33622222222", textB, 8, time.Now())
	if len(a) < 4 || len(b) != 3 {
		t.Fatalf("A has %d parts, B %d", len(a), len(b))
	}
	for _, part := range [][]byte{a[0], a[1], a[2], b[0], b[1]} {
		if _, err := m.InjectPDU(part); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	eventually(t, 10*time.Second, "A delivered incomplete", func() bool { return rec.count() == 1 })
	if _, err := m.InjectPDU(b[2]); err != nil {
		t.Fatalf("room for B's last part: %v", err)
	}
	eventually(t, 10*time.Second, "B delivered", func() bool { return rec.count() == 2 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	gotA, gotB := rec.msgs[0], rec.msgs[1]
	if !gotA.Incomplete || gotA.Parts != len(a) || len(gotA.PDUs) != 3 || gotA.Originator != "+33611111111" {
		t.Errorf("A: incomplete %v parts %d pdus %d from %q", gotA.Incomplete, gotA.Parts, len(gotA.PDUs), gotA.Originator)
	}
	if !strings.HasPrefix(gotA.Text, "A is a long message") || !strings.Contains(gotA.Text, "[…]") {
		t.Errorf("A text %q", gotA.Text)
	}
	if gotB.Incomplete || gotB.Text != textB {
		t.Errorf("B: incomplete %v text %q", gotB.Incomplete, gotB.Text)
	}
	if left := len(m.Stored("SM")); left != 0 {
		t.Errorf("%d slots left", left)
	}
}

// TestDirectStatusReports: with reports routed directly (+CDS, as on
// modems that cannot store them) they come up with their reference,
// recipient and class.
func TestDirectStatusReports(t *testing.T) {
	m := modemsim.Start(t, modemsim.Options{})
	m.SetSendRule("+33600000005", modemsim.SendRule{Outcome: modemsim.Failed})
	rec := &recorder{}
	p := runPhone(t, m, rec, func(c *Config) { quietly(t, c); c.Init = []string{"AT+CNMI=2,1,0,1,0"} })
	eventually(t, 10*time.Second, "phone up", rec.up)
	ok, err := p.Send(testContext(t), "+33600000004", "delivered", true)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := p.Send(testContext(t), "+33600000005", "fails", true)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "2 reports", func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return len(rec.reports) == 2 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := map[string]struct {
		ref   int
		class ReportClass
	}{"+33600000004": {ok[0], Delivered}, "+33600000005": {bad[0], Failed}}
	for _, r := range rec.reports {
		w, found := want[r.Recipient]
		if !found || r.Ref != w.ref || r.Class != w.class || r.Index != -1 {
			t.Errorf("report %+v, want %+v", r, w)
		}
	}
	if !commandSeen(m, "+CNMA") {
		t.Errorf("direct reports were not acknowledged")
	}
}

func commandSeen(m *modemsim.Modem, prefix string) bool {
	for _, c := range m.Commands() {
		if strings.HasPrefix(strings.ToUpper(c), prefix) {
			return true
		}
	}
	return false
}

// TestProfiles runs the init, a receive and a call on every vendor
// profile (banners, vendor chatter, +CCID forms, caller id defaults).
func TestProfiles(t *testing.T) {
	for _, prof := range []modemsim.Profile{modemsim.Generic, modemsim.Huawei, modemsim.Quectel, modemsim.SIMCom} {
		t.Run(prof.Name, func(t *testing.T) {
			t.Parallel()
			m := modemsim.Start(t, modemsim.Options{Profile: prof, RingInterval: 200 * time.Millisecond})
			rec := &recorder{}
			p := runPhone(t, m, rec, func(c *Config) { quietly(t, c) })
			eventually(t, 10*time.Second, "phone up", rec.up)
			st := p.State()
			if st.Manufacturer != prof.Manufacturer || st.IMEI != "356938035643809" || st.ICCID != "8933150319120345678" {
				t.Errorf("identity %q %q %q", st.Manufacturer, st.IMEI, st.ICCID)
			}
			if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: "hello " + prof.Name}); err != nil {
				t.Fatal(err)
			}
			call := m.InjectCall("+33698765432")
			eventually(t, 5*time.Second, "message and call", func() bool {
				rec.mu.Lock()
				defer rec.mu.Unlock()
				return len(rec.msgs) == 1 && len(rec.calls) == 1
			})
			call.Hangup()
			eventually(t, 5*time.Second, "call end", func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return len(rec.calls) == 2 })
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rec.msgs[0].Text != "hello "+prof.Name || rec.calls[0].Number != "+33698765432" || !rec.calls[1].Ended {
				t.Errorf("message %q calls %+v", rec.msgs[0].Text, rec.calls)
			}
		})
	}
}

// TestConcatTimeout: an incomplete message whose first part is older (by
// its SCTS) than ConcatTimeout is delivered as it is, flagged; a recent
// incomplete one keeps waiting on the SIM.
func TestConcatTimeout(t *testing.T) {
	now := fakeStart // a whole second: the timestamps' precision
	text := strings.Repeat("three parts, one never comes. ", 12)
	old := deliverParts(t, "+33611111111", text, 21, now.Add(-time.Hour))
	recent := deliverParts(t, "+33622222222", text, 22, now)
	stock := func(m *modemsim.Modem) {
		for _, part := range [][]byte{old[0], old[2], recent[0], recent[1]} {
			if _, err := m.InjectPDU(part); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Once idle, the recent message waits for its own timeout, and nothing
	// else is due.
	clk, m, rec, _ := stockedFakePhone(t, modemsim.Options{}, func(c *Config) { c.ConcatTimeout = 30 * time.Minute }, stock, now.Add(30*time.Minute))
	up := clk.Now()
	if n := rec.count(); n != 1 {
		t.Fatalf("%d messages delivered by the first sweeps, want the old one", n)
	}
	clk.AdvanceTo(up.Add(10 * time.Minute)) // probes and a sweep
	waitDeadlines(t, clk, "after a sweep", up.Add(10*time.Minute+30*time.Second), up.Add(20*time.Minute), now.Add(30*time.Minute))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.msgs) != 1 {
		t.Fatalf("%d messages delivered, want only the old one", len(rec.msgs))
	}
	got := rec.msgs[0]
	if !got.Incomplete || got.Parts != 3 || len(got.PDUs) != 2 || got.Originator != "+33611111111" {
		t.Errorf("incomplete %v parts %d pdus %d from %q", got.Incomplete, got.Parts, len(got.PDUs), got.Originator)
	}
	if len(m.Stored("SM")) != 2 {
		t.Errorf("the recent message's 2 parts should stay on the SIM: %v", m.Stored("SM"))
	}
}

// TestMalformedAndBinary: an undecodable PDU goes to HandleMalformed and
// does not hold up the messages behind it; 8-bit data comes up raw.
func TestMalformedAndBinary(t *testing.T) {
	m := modemsim.Start(t, modemsim.Options{})
	rec := &recorder{}
	runPhone(t, m, rec, func(c *Config) { quietly(t, c) })
	eventually(t, 10*time.Second, "phone up", rec.up)
	broken := []byte{0x04, 0x0B, 0x91, 0x33} // an SMS-DELIVER cut off in its address
	if _, err := m.InjectPDU(broken); err != nil {
		t.Fatal(err)
	}
	data := []byte{0x00, 0x01, 0xFE, 0xFF, 'o', 'k'}
	if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Encoding: modemsim.Binary, Data: data}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: "after the broken one"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "2 messages", func() bool { return rec.count() == 2 })
	eventually(t, 5*time.Second, "an empty SIM", func() bool { return len(m.Stored("SM")) == 0 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.malformed) != 1 || !strings.HasSuffix(fmt.Sprintf("%X", rec.malformed[0]), "040B9133") {
		t.Errorf("malformed %X", rec.malformed)
	}
	// In either order: the SIM may store the text in the broken PDU's slot
	// once that is deleted, ahead of the binary one.
	bin, txt := rec.msgs[0], rec.msgs[1]
	if txt.Encoding == "8bit" {
		bin, txt = txt, bin
	}
	if bin.Encoding != "8bit" || string(bin.Data) != string(data) || bin.Text != "0x0001feff6f6b" {
		t.Errorf("8-bit message %q %x %q", bin.Encoding, bin.Data, bin.Text)
	}
	if txt.Text != "after the broken one" {
		t.Errorf("text %q", txt.Text)
	}
}

// TestPIN: the right PIN unlocks the SIM; a wrong one is sent once and
// never again across reconnections (three wrong PINs lock a SIM).
func TestPIN(t *testing.T) {
	tests := []struct {
		name, pin string
		up        bool
	}{{"right PIN", "1234", true}, {"wrong PIN", "0000", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := modemsim.Start(t, modemsim.Options{PIN: "1234"})
			rec := &recorder{}
			p := runPhone(t, m, rec, func(c *Config) { quietly(t, c); c.PIN = tt.pin })
			if tt.up {
				eventually(t, 10*time.Second, "phone up", rec.up)
			} else {
				eventually(t, 10*time.Second, "3 failed connections", func() bool { return p.State().Reconnects >= 3 })
				if !strings.Contains(p.State().LastError, "PIN") {
					t.Errorf("last error %q", p.State().LastError)
				}
			}
			tries := 0
			for _, c := range m.Commands() {
				if strings.HasPrefix(strings.ToUpper(c), "+CPIN=") {
					tries++
				}
			}
			if tries != 1 {
				t.Errorf("the PIN was sent %d times, want once", tries)
			}
		})
	}
}

// TestDirectMessages: on a modem that routes messages directly (+CMT, as
// some do whatever +CNMI says) each is handed over, then acknowledged.
func TestDirectMessages(t *testing.T) {
	m := modemsim.Start(t, modemsim.Options{})
	rec := &recorder{}
	runPhone(t, m, rec, func(c *Config) { quietly(t, c); c.Init = []string{"+CNMI=2,2,0,0,0"} })
	eventually(t, 10*time.Second, "phone up", rec.up)
	if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: "routed €"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the message", func() bool { return rec.count() == 1 })
	rec.mu.Lock()
	got := rec.msgs[0]
	rec.mu.Unlock()
	if got.Text != "routed €" || got.Originator != "+33612345678" || got.Encoding != "gsm7" || got.Incomplete {
		t.Errorf("got %+v", got)
	}
	eventually(t, 5*time.Second, "+CNMA", func() bool { return commandSeen(m, "+CNMA") })
}

// TestFailedReadIsSweptSoon: a +CMTI whose read times out (the modem hung)
// is spent, so the driver sweeps again within seconds instead of leaving
// the message on the SIM until the next safety sweep, minutes away.
func TestFailedReadIsSweptSoon(t *testing.T) {
	const timeout = 2 * time.Second
	clk, m, rec, p := fakePhone(t, modemsim.Options{}, func(c *Config) {
		c.CommandTimeout = timeout
		c.SweepInterval = 10 * time.Minute
		c.ProbeInterval = 10 * time.Minute
	})
	up := clk.Now()
	probeAt, sweepAt := up.Add(10*time.Minute), up.Add(10*time.Minute)
	m.Hang(1500 * time.Millisecond)
	if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: "read during a hang"}); err != nil {
		t.Fatal(err)
	}
	// The read waits for its answer, then times out.
	waitDeadlines(t, clk, "the read", up.Add(timeout), probeAt, sweepAt)
	clk.AdvanceTo(up.Add(timeout))
	// The indication is spent: a sweep comes resweepDelay later, long
	// before the safety sweep.
	resweep := up.Add(timeout + resweepDelay)
	waitDeadlines(t, clk, "the resweep", resweep, probeAt, sweepAt)
	if p.Stats().Timeouts != 1 || rec.count() != 0 {
		t.Fatalf("before the resweep: %d timeouts, %d messages", p.Stats().Timeouts, rec.count())
	}
	clk.AdvanceTo(resweep)
	eventually(t, 10*time.Second, "the message", func() bool { return rec.texts()["read during a hang"] == 1 })
	eventually(t, 10*time.Second, "an empty SIM", func() bool { return len(m.Stored("SM")) == 0 })
	waitDeadlines(t, clk, "idle again", probeAt, sweepAt)
}

// TestLateRepliesShiftNothing: a read times out because the modem answers
// late, and later answers come at a slow modem's pace while new messages
// arrive. Every message must come up exactly once with its own slot, and
// none may be deleted unread (a reply shifted by one command once made the
// read of slot 3 return slot 2's message and delete slot 3).
func TestLateRepliesShiftNothing(t *testing.T) {
	clk := clock.NewFake(fakeStart)
	m := modemsim.Start(t, modemsim.Options{Clock: clk})
	rec := &recorder{}
	p := runPhone(t, m, rec, func(c *Config) {
		c.Clock = clk
		c.CommandTimeout = time.Second
		c.ProbeInterval = time.Minute
		c.SweepInterval = 8 * time.Second
	})
	passQuietWaits(t, clk)
	eventually(t, 10*time.Second, "phone up", rec.up)
	reads := func(cmd string) int {
		n := 0
		for _, c := range m.Commands() {
			if c == cmd {
				n++
			}
		}
		return n
	}
	// The phone reports up before its start-up sweep (AT+CMGL, then
	// AT+CPMS?) ends. A reply delay set before the sweep's last command
	// would hold its answer on the fake clock, which nothing here moves;
	// the simulator fixes a command's delay when it records the command.
	eventually(t, 10*time.Second, "the start-up sweep", func() bool { return reads("+CPMS?") >= 1 })
	m.SetReplyDelay(1500 * time.Millisecond)
	if _, err := m.InjectSMS(modemsim.SMS{From: "+33611111111", Text: "one"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the read of slot 1", func() bool { return reads("+CMGR=1") == 1 })
	readAt := clk.Now()
	m.SetReplyDelay(300 * time.Millisecond)
	if _, err := m.InjectSMS(modemsim.SMS{From: "+33622222222", Text: "two"}); err != nil {
		t.Fatal(err)
	}
	// The read's timeout (1 s) comes before its answer (1.5 s).
	drive(t, clk, m, "the timeout", func() bool { return p.Stats().Timeouts >= 1 })
	if got := clk.Now().Sub(readAt); got >= 1500*time.Millisecond {
		t.Errorf("the read timed out %v after it was sent, after its late answer", got)
	}
	timedOut := clk.Now()
	drive(t, clk, m, "a moment", func() bool { return clk.Now().Sub(timedOut) >= 100*time.Millisecond })
	if _, err := m.InjectSMS(modemsim.SMS{From: "+33633333333", Text: "three"}); err != nil {
		t.Fatal(err)
	}
	drive(t, clk, m, "three messages", func() bool { return len(rec.texts()) == 3 })
	drive(t, clk, m, "an empty SIM", func() bool { return len(m.Stored("SM")) == 0 })
	emptied := clk.Now()
	drive(t, clk, m, "a sweep more", func() bool { return clk.Now().Sub(emptied) >= 10*time.Second })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	slot := map[string]int{"one": 1, "two": 2, "three": 3}
	for _, msg := range rec.msgs {
		if len(msg.Indexes) != 1 || msg.Indexes[0] != slot[msg.Text] {
			t.Errorf("%q came up with slots %v, want [%d]", msg.Text, msg.Indexes, slot[msg.Text])
		}
	}
	if len(rec.msgs) != 3 {
		t.Errorf("%d messages handed over, want 3: %+v", len(rec.msgs), rec.msgs)
	}
}

// TestReusedConcatReference: a sender that reuses one concatenation
// reference sends two long messages whose parts reach the SIM interleaved
// (A1, B1, A2, B2). Both must come up complete and once; the old driver took
// B1 for a network resend of A1 and deleted it unread.
func TestReusedConcatReference(t *testing.T) {
	m := modemsim.Start(t, modemsim.Options{})
	a := strings.Repeat("AAAA ", 40) // two parts each
	b := strings.Repeat("BBBB ", 40)
	var parts [2][][]byte
	for i, text := range []string{a, b} {
		p, err := m.EncodeSMS(modemsim.SMS{From: "+33612345678", Text: text, ConcatRef: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != 2 {
			t.Fatalf("%d parts, want 2", len(p))
		}
		parts[i] = p
	}
	for _, p := range [][]byte{parts[0][0], parts[1][0], parts[0][1], parts[1][1]} {
		if _, err := m.InjectPDU(p); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	runPhone(t, m, rec, func(c *Config) { quietly(t, c) })
	eventually(t, 15*time.Second, "both messages", func() bool { return len(rec.texts()) == 2 })
	eventually(t, 10*time.Second, "an empty SIM", func() bool { return len(m.Stored("SM")) == 0 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, msg := range rec.msgs {
		if msg.Incomplete || (msg.Text != a && msg.Text != b) {
			t.Errorf("came up incomplete=%v: %q", msg.Incomplete, msg.Text)
		}
	}
	if len(rec.msgs) != 2 {
		t.Errorf("%d messages handed over, want 2", len(rec.msgs))
	}
}

// hangOnce hangs the modem once, inside the first HandleSMS, so that the
// deletes that follow the handler time out.
type hangOnce struct {
	*recorder
	m    *modemsim.Modem
	once sync.Once
}

func (h *hangOnce) HandleSMS(ctx context.Context, msg *Message) error {
	h.once.Do(func() { h.m.Hang(1500 * time.Millisecond) })
	return h.recorder.HandleSMS(ctx, msg)
}

// TestFailedDeleteOfOnePart: the first delete of a 3-part message times
// out. The parts left on the SIM were handed over with the message, so they
// must be deleted later, never offered again as an incomplete message.
func TestFailedDeleteOfOnePart(t *testing.T) {
	rec := &recorder{}
	clk := clock.NewFake(fakeStart)
	m := modemsim.Start(t, modemsim.Options{Now: clk.Now})
	p := runPhone(t, m, &hangOnce{recorder: rec, m: m}, func(c *Config) {
		c.Clock = clk
		c.CommandTimeout = 2 * time.Second
		c.ConcatTimeout = 4 * time.Second
		c.ProbeInterval, c.SweepInterval = 30*time.Second, 10*time.Second
	})
	passQuietWaits(t, clk)
	eventually(t, 10*time.Second, "phone up", rec.up)
	long := strings.Repeat("three parts ", 30)
	if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: long}); err != nil {
		t.Fatal(err)
	}
	drive(t, clk, m, "an empty SIM", func() bool { return len(m.Stored("SM")) == 0 })
	if p.Stats().Timeouts == 0 || countCommands(m, "+CMGD") != 3 {
		t.Errorf("%d timeouts and %d deletes answered: the first delete should have timed out, and each part been deleted once",
			p.Stats().Timeouts, countCommands(m, "+CMGD"))
	}
	// Past ConcatTimeout and a safety sweep: a leftover part would have
	// come up.
	emptied := clk.Now()
	drive(t, clk, m, "a minute", func() bool { return !clk.Now().Before(emptied.Add(time.Minute)) })
	if got := rec.count(); got != 1 {
		t.Errorf("the message came up %d times, want once", got)
	}
}

// TestPromptLeftOpen: a program killed between AT+CMGS and its PDU leaves
// the modem in the prompt, where it takes every command as message text and
// answers nothing. The next session must get the modem back, and the junk
// must not be sent as a message.
func TestPromptLeftOpen(t *testing.T) {
	m := modemsim.Start(t, modemsim.Options{})
	leavePromptOpen(t, m)
	rec := &recorder{}
	p := runPhone(t, m, rec, func(c *Config) {
		c.Clock, c.ProbeInterval, c.SweepInterval = promptClock(t), time.Hour, time.Hour
	})
	eventually(t, 15*time.Second, "phone up", rec.up)
	if _, err := p.Send(testContext(t), "+33600000001", "after the prompt", false); err != nil {
		t.Fatal(err)
	}
	if sent := m.SentMessages(); len(sent) != 1 || sent[0].Text != "after the prompt" {
		t.Errorf("the modem sent %+v, want only the new message", sent)
	}
}

// leavePromptOpen does what a program killed at the +CMGS prompt does: it
// asks to send, waits for the prompt and goes away.
func leavePromptOpen(t *testing.T, m *modemsim.Modem) {
	t.Helper()
	port, err := serial.Open(m.Path(), &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	if _, err := port.Write([]byte("AT+CMGS=20\r")); err != nil {
		t.Fatal(err)
	}
	_ = port.SetReadTimeout(100 * time.Millisecond)
	var got []byte
	buf := make([]byte, 64)
	for deadline := time.Now().Add(5 * time.Second); !bytes.Contains(got, []byte("> ")); {
		if time.Now().After(deadline) {
			t.Fatalf("no prompt; the modem wrote %q", got)
		}
		n, _ := port.Read(buf)
		got = append(got, buf[:n]...)
	}
}
