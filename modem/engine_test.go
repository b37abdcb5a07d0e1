package modem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/internal/clock"
)

// scripted is a fake modem over pipes: the test reads what the engine
// writes and writes the modem's answers line by line.
type scripted struct {
	toModem   *io.PipeReader
	fromHost  *io.PipeWriter
	toHost    *io.PipeWriter
	fromModem *io.PipeReader

	mu        sync.Mutex
	written   int // bytes the modem wrote
	delivered int // bytes the engine's reader got
	processed int // bytes the reader had got when it asked for more
}

func (s *scripted) Read(p []byte) (int, error) {
	s.mu.Lock()
	s.processed = s.delivered // every line before this read is queued
	s.mu.Unlock()
	n, err := s.fromModem.Read(p)
	s.mu.Lock()
	s.delivered += n
	s.mu.Unlock()
	return n, err
}

func (s *scripted) Write(p []byte) (int, error) { return s.fromHost.Write(p) }

func newScripted(t *testing.T) (*scripted, *engine) {
	t.Helper()
	return newScriptedOn(t, nil)
}

// newScriptedOn is newScripted with the engine on clk.
func newScriptedOn(t *testing.T, clk clock.Clock) (*scripted, *engine) {
	t.Helper()
	s := &scripted{}
	s.toModem, s.fromHost = io.Pipe()
	s.fromModem, s.toHost = io.Pipe()
	e := newEngine(s, clk)
	t.Cleanup(func() {
		s.toHost.Close()
		s.toModem.Close()
	})
	return s, e
}

// settle waits until the engine's reader has queued every line the modem
// wrote.
func (s *scripted) settle(t *testing.T) {
	t.Helper()
	eventually(t, 10*time.Second, "the reader to queue the modem's lines", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.processed >= s.written
	})
}

// expectAfterQuiet reads want from the engine, moving clk on through the
// engine's quiet waits (each time one is armed, resyncQuiet from now) until
// want comes. Lines the modem wrote must be queued first (settle).
func (s *scripted) expectAfterQuiet(t *testing.T, clk *clock.Fake, want string) {
	t.Helper()
	got := make(chan struct{})
	buf := make([]byte, len(want))
	var err error
	go func() {
		defer close(got)
		_, err = io.ReadFull(s.toModem, buf)
	}()
	defer func() {
		<-got
		if err != nil || string(buf) != want {
			t.Fatalf("engine wrote %q (%v), want %q", buf, err, want)
		}
	}()
	for {
		var at time.Time
		quiet := func(now time.Time, deadlines []time.Time) bool {
			for _, d := range deadlines {
				if d.Sub(now) == resyncQuiet {
					at = d
					return true
				}
			}
			return false
		}
		if !clk.WaitUntil(quiet, got) {
			return
		}
		clk.AdvanceTo(at)
	}
}

// expectTimeout moves clk to the deadline of the command in flight once n
// timers are armed, after checking that a moment earlier is not enough.
func expectTimeout(t *testing.T, clk *clock.Fake, n int, timeout time.Duration, errc <-chan error) {
	t.Helper()
	start := clk.Now()
	if !waitClock(clk, func(_ time.Time, d []time.Time) bool { return len(d) >= n }) {
		t.Fatalf("%d timers armed, want %d", clk.Pending(), n)
	}
	clk.AdvanceTo(start.Add(timeout - time.Millisecond))
	select {
	case err := <-errc:
		t.Fatalf("the command ended before its timeout: %v", err)
	default:
	}
	clk.AdvanceTo(start.Add(timeout))
}

// commandAsync runs one command in the background and delivers its reply
// lines; an error fails the test.
func commandAsync(t *testing.T, e *engine, cmd string, timeout time.Duration) <-chan []string {
	t.Helper()
	done := make(chan []string, 1)
	go func() {
		lines, err := e.Command(context.Background(), cmd, timeout)
		if err != nil {
			t.Errorf("%s: %v", cmd, err)
		}
		done <- lines
	}()
	return done
}

// expect reads one command from the engine.
func (s *scripted) expect(t *testing.T, want string) {
	t.Helper()
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(s.toModem, buf); err != nil || string(buf) != want {
		t.Fatalf("engine wrote %q (%v), want %q", buf, err, want)
	}
}

// answer writes modem output.
func (s *scripted) answer(t *testing.T, out string) {
	t.Helper()
	s.mu.Lock()
	s.written += len(out)
	s.mu.Unlock()
	if _, err := s.toHost.Write([]byte(out)); err != nil {
		t.Fatal(err)
	}
}

func TestEngineRoutesURCsOutOfReplies(t *testing.T) {
	s, e := newScripted(t)
	done := commandAsync(t, e, "+CSQ", time.Second)
	s.expect(t, "AT+CSQ\r")
	s.answer(t, "AT+CSQ\r\r\n+CMTI: \"SM\",3\r\n\r\n+CSQ: 17,99\r\nRING\r\n\r\nOK\r\n")
	if lines := <-done; strings.Join(lines, "|") != "+CSQ: 17,99" {
		t.Fatalf("reply %q", lines)
	}
	for _, want := range []string{`+CMTI: "SM",3`, "RING"} {
		if u := nextURC(t, e); u.line != want {
			t.Errorf("urc %q, want %q", u.line, want)
		}
	}
}

func TestEngineExpectedPrefixIsNotAURC(t *testing.T) {
	s, e := newScripted(t)
	done := make(chan []string)
	go func() {
		lines, _ := e.Command(context.Background(), "+CREG?", time.Second)
		done <- lines
	}()
	s.expect(t, "AT+CREG?\r")
	s.answer(t, "\r\n+CREG: 0,1\r\n\r\nOK\r\n")
	if lines := <-done; len(lines) != 1 || lines[0] != "+CREG: 0,1" {
		t.Fatalf("reply %q", lines)
	}
}

func TestEngineErrorsAndTwoLineURC(t *testing.T) {
	s, e := newScripted(t)
	tests := []struct {
		answer string
		check  func(error) bool
	}{
		{"\r\n+CMS ERROR: 321\r\n", func(err error) bool {
			var c *CMSError
			return errors.As(err, &c) && c.Code == 321
		}},
		{"\r\n+CME ERROR: 10\r\n", func(err error) bool { var c *CMEError; return errors.As(err, &c) }},
		{"\r\nERROR\r\n", func(err error) bool { return errors.Is(err, ErrCommand) }},
	}
	for _, tt := range tests {
		errc := make(chan error)
		go func() {
			_, err := e.Command(context.Background(), "+CMGR=1", time.Second)
			errc <- err
		}()
		s.expect(t, "AT+CMGR=1\r")
		s.answer(t, tt.answer)
		if err := <-errc; !tt.check(err) {
			t.Errorf("answer %q gave %v", tt.answer, err)
		}
	}
	s.answer(t, "\r\n+CDS: 25\r\n0006D60B911326880736F4111011719551401110117195714000\r\n")
	if u := nextURC(t, e); u.line != "+CDS: 25" || !strings.HasPrefix(u.pdu, "0006D6") {
		t.Errorf("two-line URC %+v", u)
	}
}

// TestEngineResyncAfterTimeout: a late reply to a timed-out command must
// not be taken for the next command's.
func TestEngineResyncAfterTimeout(t *testing.T) {
	clk := clock.NewFake(fakeStart)
	s, e := newScriptedOn(t, clk)
	errc := make(chan error, 1)
	go func() {
		_, err := e.Command(context.Background(), "+CGMI", 50*time.Millisecond)
		errc <- err
	}()
	s.expect(t, "AT+CGMI\r")
	expectTimeout(t, clk, 1, 50*time.Millisecond, errc)
	if err := <-errc; !errors.Is(err, ErrTimeout) {
		t.Fatalf("want a timeout, got %v", err)
	}
	done := commandAsync(t, e, "+CGSN", time.Second)
	s.answer(t, "\r\nLATE MAKER\r\n\r\nOK\r\n") // the late reply to +CGMI
	s.expect(t, "\x1bAT+CMEE?\r")               // resynchronisation
	s.answer(t, "\r\n+CMEE: 1\r\n\r\nOK\r\n")
	s.settle(t)
	s.expectAfterQuiet(t, clk, "AT+CGSN\r")
	s.answer(t, "\r\n356938035643809\r\n\r\nOK\r\n")
	if lines := <-done; strings.Join(lines, "|") != "356938035643809" {
		t.Fatalf("+CGSN got %q", lines)
	}
}

// nextURC waits for the next indication.
func nextURC(t *testing.T, e *engine) urc {
	t.Helper()
	deadline := time.After(2 * time.Second)
	for {
		if u, ok := e.urcs.pop(); ok {
			return u
		}
		select {
		case <-e.urcs.ready:
		case <-deadline:
			t.Fatal("no indication")
		}
	}
}

// TestEngineSendPrompt scripts the +CMGS exchange: the prompt without a
// line end, the PDU and Ctrl-Z, then the reference or a refusal, with
// indications interleaved. Once the PDU and its Ctrl-Z are out, an end
// without a result code (silence, a failed port) is ErrUnconfirmed, because
// the modem may have sent the message; an end before the PDU went out is not.
func TestEngineSendPrompt(t *testing.T) {
	tests := []struct {
		name      string
		prompt    string // what the modem writes after the command
		pdu       bool   // whether the engine should write the PDU
		reply     string // what the modem writes after the PDU
		portFails bool   // the port fails after the PDU
		after     string // what the engine writes after giving up
		timers    int    // timers armed while the engine waits in vain (0: it does not)
		lines     string
		check     func(error) bool
	}{
		{name: "accepted", prompt: "\r\n> ", pdu: true, reply: "\r\n+CMTI: \"SM\",4\r\n\r\n+CMGS: 17\r\n\r\nOK\r\n", lines: "+CMGS: 17",
			check: func(err error) bool { return err == nil }},
		{name: "refused", prompt: "\r\n> ", pdu: true, reply: "\r\n+CMS ERROR: 38\r\n", check: func(err error) bool {
			var c *CMSError
			return errors.As(err, &c) && c.Code == 38 && Temporary(err) && !errors.Is(err, ErrUnconfirmed)
		}},
		{name: "no prompt", prompt: "\r\n+CMS ERROR: 304\r\n", check: func(err error) bool {
			var c *CMSError
			return errors.As(err, &c) && c.Code == 304
		}},
		{name: "prompt too late", after: "\x1b", timers: 1, check: func(err error) bool {
			return errors.Is(err, ErrTimeout) && !errors.Is(err, ErrUnconfirmed) && Temporary(err)
		}},
		{name: "silent after the PDU", prompt: "\r\n> ", pdu: true, timers: 2, check: func(err error) bool {
			return errors.Is(err, ErrUnconfirmed) && errors.Is(err, ErrTimeout) && Temporary(err)
		}},
		{name: "port fails after the PDU", prompt: "\r\n> ", pdu: true, portFails: true, check: func(err error) bool {
			return errors.Is(err, ErrUnconfirmed) && errors.Is(err, ErrClosed) && !Temporary(err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(fakeStart)
			s, e := newScriptedOn(t, clk)
			type result struct {
				lines []string
				err   error
			}
			done := make(chan result, 1)
			go func() {
				lines, err := e.CommandPDU(context.Background(), "+CMGS=20", "0011AB", 500*time.Millisecond, nil)
				done <- result{lines, err}
			}()
			s.expect(t, "AT+CMGS=20\r")
			s.answer(t, tt.prompt)
			if tt.pdu {
				s.expect(t, "0011AB\x1a")
				s.answer(t, tt.reply)
			}
			if tt.portFails {
				s.toHost.CloseWithError(errors.New("read /dev/ttyUSB2: input/output error"))
			}
			if tt.timers > 0 {
				errc := make(chan error, 1)
				go func() { r := <-done; done <- r; errc <- r.err }()
				expectTimeout(t, clk, tt.timers, 500*time.Millisecond, errc)
			}
			if tt.after != "" {
				s.expect(t, tt.after)
			}
			r := <-done
			if strings.Join(r.lines, "|") != tt.lines || !tt.check(r.err) {
				t.Errorf("got %q %v", r.lines, r.err)
			}
		})
	}
}

// TestEngineStopsWhenThePortFails: a read error (an unplugged pty gives
// EIO) stops the reader, and commands fail with ErrClosed, not a timeout.
func TestEngineStopsWhenThePortFails(t *testing.T) {
	s, e := newScripted(t)
	s.toHost.CloseWithError(errors.New("read /dev/ttyUSB2: input/output error"))
	select {
	case <-e.dead:
	case <-time.After(2 * time.Second):
		t.Fatal("the reader did not stop")
	}
	if _, err := e.Command(context.Background(), "+CSQ", time.Second); !errors.Is(err, ErrClosed) {
		t.Errorf("command on a dead port: %v", err)
	}
}

// TestEngineKeepsLongReplies: a +CMGL reply of a full storage arrives in
// one go, faster than the command reads it; no line of it may be lost (a
// lost PDU line is a skipped message, a lost OK a timeout that spends the
// indications that led to the read).
func TestEngineKeepsLongReplies(t *testing.T) {
	const n = 1000
	s, e := newScripted(t)
	var reply strings.Builder
	for i := range n {
		fmt.Fprintf(&reply, "+CMGL: %d,0,,24\r\n%040X\r\n", i, i)
	}
	reply.WriteString("\r\nOK\r\n")
	type result struct {
		lines []string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		lines, err := e.Command(context.Background(), "+CMGL=4", 5*time.Second)
		done <- result{lines, err}
	}()
	s.expect(t, "AT+CMGL=4\r")
	s.answer(t, reply.String())
	r := <-done
	if r.err != nil {
		t.Fatalf("+CMGL: %v", r.err)
	}
	recs, stray := storedRecords(r.lines, "+CMGL:")
	if len(recs) != n || stray != 0 {
		t.Fatalf("%d records and %d stray lines, want %d and 0", len(recs), stray, n)
	}
	for i, rec := range recs {
		if want := fmt.Sprintf("%040X", i); rec.pdu != want {
			t.Fatalf("record %d has PDU %s, want %s", i, rec.pdu, want)
		}
	}
}

// TestEngineResyncIsNotFooledByALateOK: the late reply to a timed-out read
// ends with OK while the resynchronisation waits for its own answer, which
// a slow modem gives 300 ms later. The next read must get its own reply, not
// the one before (that shift once made a read of slot 3 return slot 2's
// message, and the delete that followed removed slot 3 unread).
func TestEngineResyncIsNotFooledByALateOK(t *testing.T) {
	clk := clock.NewFake(fakeStart)
	s, e := newScriptedOn(t, clk)
	errc := make(chan error, 1)
	go func() {
		_, err := e.Command(context.Background(), "+CMGR=1", 50*time.Millisecond)
		errc <- err
	}()
	s.expect(t, "AT+CMGR=1\r")
	expectTimeout(t, clk, 1, 50*time.Millisecond, errc)
	if err := <-errc; !errors.Is(err, ErrTimeout) {
		t.Fatalf("want a timeout, got %v", err)
	}
	done := commandAsync(t, e, "+CMGR=2", 3*time.Second)
	s.expect(t, "\x1bAT+CMEE?\r")
	s.answer(t, "\r\n+CMGR: 0,,24\r\n0011\r\n\r\nOK\r\n") // the late reply to +CMGR=1
	s.settle(t)
	// The quiet wait restarts from the late reply; its OK must not count.
	lateAt := clk.Now()
	waitDeadlines(t, clk, "quiet after the late reply", lateAt.Add(resyncQuiet))
	clk.Advance(300 * time.Millisecond) // a slow modem's answer
	s.answer(t, "\r\n+CMEE: 1\r\n\r\nOK\r\n")
	s.settle(t)
	s.expectAfterQuiet(t, clk, "AT+CMGR=2\r")
	s.answer(t, "\r\n+CMGR: 0,,24\r\n0022\r\n\r\nOK\r\n")
	if lines := <-done; strings.Join(lines, "|") != "+CMGR: 0,,24|0022" {
		t.Fatalf("+CMGR=2 got %q", lines)
	}
}

// TestEngineSkipsALateResyncAnswer: an answer to a resynchronisation that
// comes after the engine went on is recognised by its +CMEE: line and
// skipped with its OK; the command gets its own reply.
func TestEngineSkipsALateResyncAnswer(t *testing.T) {
	s, e := newScripted(t)
	done := commandAsync(t, e, "+CSQ", time.Second)
	s.expect(t, "AT+CSQ\r")
	s.answer(t, "\r\n+CMEE: 1\r\n\r\nOK\r\n\r\n+CSQ: 17,99\r\n\r\nOK\r\n")
	if lines := <-done; strings.Join(lines, "|") != "+CSQ: 17,99" {
		t.Fatalf("+CSQ got %q", lines)
	}
}

// TestEngineLatePrompt: the prompt of a +CMGS comes after the engine gave
// up on it (and wrote ESC, which reached the modem too early). The modem now
// takes everything as message text; the resynchronisation before the next
// command cancels the prompt first, and nothing is sent.
func TestEngineLatePrompt(t *testing.T) {
	clk := clock.NewFake(fakeStart)
	s, e := newScriptedOn(t, clk)
	errc := make(chan error, 1)
	go func() {
		_, err := e.CommandPDU(context.Background(), "+CMGS=20", "0011AB", 50*time.Millisecond, nil)
		errc <- err
	}()
	s.expect(t, "AT+CMGS=20\r")
	expectTimeout(t, clk, 1, 50*time.Millisecond, errc)
	s.expect(t, "\x1b") // given up on the prompt
	if err := <-errc; !errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnconfirmed) {
		t.Fatalf("want a timeout before the PDU, got %v", err)
	}
	s.answer(t, "\r\n> ") // the late prompt
	done := commandAsync(t, e, "+CSQ", 3*time.Second)
	s.expect(t, "\x1bAT+CMEE?\r")
	s.answer(t, "\r\nOK\r\n\r\n+CMEE: 1\r\n\r\nOK\r\n") // the cancelled prompt, then the marker
	s.settle(t)
	s.expectAfterQuiet(t, clk, "AT+CSQ\r")
	s.answer(t, "\r\n+CSQ: 17,99\r\n\r\nOK\r\n")
	if lines := <-done; strings.Join(lines, "|") != "+CSQ: 17,99" {
		t.Fatalf("+CSQ got %q", lines)
	}
}
