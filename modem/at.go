package modem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/simhook/simhook/internal/clock"
)

// urc is one unsolicited result: a line, and for +CMT and +CDS the PDU line
// that follows it.
type urc struct {
	line string
	pdu  string
}

// engine is the AT command layer over one open port. One reader goroutine
// splits the input into lines; unsolicited lines go to urcs in arrival
// order; every other line goes to replies, for the command in flight. One
// command runs at a time.
type engine struct {
	rw  io.ReadWriter
	clk clock.Clock // times the commands' deadlines and the quiet waits

	cmdMu   sync.Mutex // one command at a time
	replies *lineQueue // lines for the command in flight
	urcs    *lineQueue
	dead    chan struct{} // closed when the reader stops
	err     error         // why the reader stopped
	expect  atomic.Value  // string: the prefix the command in flight answers with
	dirty   atomic.Bool   // a command timed out: resynchronise first
	junk    atomic.Int64  // lines that made no sense

	ussdMu sync.Mutex
	ussd   chan string // +CUSD answers go here while a USSD call waits; nil otherwise
}

// newEngine starts the reader over rw; it stops when rw's Read fails. Its
// deadlines run on clk (the real clock when nil).
//
// The reader blocks in rw.Read until bytes come or the port is closed: the
// serial port is opened without a read timeout, so an idle line costs no
// wakeups. (A read timeout, if one were set, would be go.bug.st/serial's own
// and run on the real clock; no code here sets one.)
func newEngine(rw io.ReadWriter, clk clock.Clock) *engine {
	e := &engine{rw: rw, clk: clock.Or(clk), replies: newLineQueue(), urcs: newLineQueue(), dead: make(chan struct{})}
	e.expect.Store("")
	go e.read()
	return e
}

// unsolicited are the prefixes of lines a modem sends on its own. A line
// with one of them is an indication unless the command in flight expects
// that very prefix (AT+CREG? answers "+CREG: 0,1"). Huawei's indications
// are listed one by one rather than as every "^" line, because Huawei
// also answers commands with "^" lines (AT+CCID gives "^ICCID: ...").
var unsolicited = []string{
	"RING", "NO CARRIER", "+CLIP:", "+CMTI:", "+CDSI:", "+CMT:", "+CDS:", "+CREG:", "+CGREG:", "+CEREG:",
	"+QIND:", "RDY", "+CFUN:", "+CPIN: READY", "Call Ready", "SMS Ready", "+QUSIM:", "+CRING:", "+PACSP", "+CUSD:",
	"^RSSI:", "^HCSQ:", "^MODE:", "^BOOT:", "^DSFLOWRPT:", "^SRVST:", "^SIMST:", "^SYSSTART", "^CEND:",
	"^ORIG:", "^CONF:", "^CONN:", "^STIN:", "^NDISSTAT:", "^RFSWITCH:", "^SMMEMFULL:", "^CRSSI:", "^NWTIME:",
	"^TIME:", "^ACTIVEBAND:", "^EONS:",
}

// isURC reports whether line is unsolicited given the expected prefix.
func isURC(line, expect string) bool {
	if expect != "" && strings.HasPrefix(line, expect) {
		return false
	}
	for _, p := range unsolicited {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// read splits the input and routes each line.
func (e *engine) read() {
	defer close(e.dead)
	buf := make([]byte, 4096)
	var acc []byte
	var pendingPDU string  // a +CMT/+CDS header waiting for its PDU line
	var pendingCUSD string // a +CUSD answer whose text goes on over more lines
	for {
		n, err := e.rw.Read(buf)
		if n > 0 {
			acc = append(acc, buf[:n]...)
			for {
				i := bytes.IndexByte(acc, '\n')
				if i < 0 {
					break
				}
				line := clean(acc[:i])
				if pendingCUSD != "" || strings.HasPrefix(line, "+CUSD:") {
					line = cleanText(acc[:i])
				}
				acc = acc[i+1:]
				if line == "" {
					continue
				}
				if pendingPDU != "" {
					e.urcs.push(urc{line: pendingPDU, pdu: line})
					pendingPDU = ""
					continue
				}
				if pendingCUSD != "" {
					pendingCUSD += "\n" + line
					if !cusdComplete(pendingCUSD) && strings.Count(pendingCUSD, "\n") < cusdMaxLines && len(pendingCUSD) < cusdMaxLen {
						continue
					}
					line, pendingCUSD = pendingCUSD, ""
				} else if strings.HasPrefix(line, "+CUSD:") && !cusdComplete(line) {
					pendingCUSD = line
					continue
				}
				if strings.HasPrefix(line, "+CUSD:") && e.toUSSD(line) {
					continue
				}
				if isURC(line, e.expect.Load().(string)) {
					if strings.HasPrefix(line, "+CMT:") || strings.HasPrefix(line, "+CDS:") {
						pendingPDU = line
						continue
					}
					e.urcs.push(urc{line: line})
					continue
				}
				// Never dropped: a +CMGL reply can run to hundreds of
				// lines, and a line lost from it is a message skipped.
				e.replies.push(urc{line: line})
			}
			// The send prompt "> " comes without a line end.
			if t := bytes.TrimLeft(acc, "\r\n"); len(t) > 0 && t[0] == '>' && len(bytes.TrimSpace(t)) == 1 {
				acc = acc[:0]
				e.replies.push(urc{line: ">"})
			}
			if len(acc) > 8192 {
				acc = acc[:0]
				e.junk.Add(1)
			}
		}
		if err != nil {
			// The port is gone (EIO on an unplugged pty, or closed by the
			// session): the reader stops and the session reconnects.
			e.err = err
			return
		}
	}
}

// cusdMaxLines and cusdMaxLen bound a +CUSD answer spread over several
// lines (a menu runs to about ten): a quote that never closes must not
// swallow the replies that follow for long.
const (
	cusdMaxLines = 24
	cusdMaxLen   = 4096
)

// awaitUSSD makes the engine hand +CUSD answers to the returned channel,
// until done is called, instead of queueing them as indications. It holds
// one answer; more go to the indications.
func (e *engine) awaitUSSD() (answers <-chan string, done func()) {
	c := make(chan string, 1)
	e.ussdMu.Lock()
	e.ussd = c
	e.ussdMu.Unlock()
	return c, func() {
		e.ussdMu.Lock()
		if e.ussd == c {
			e.ussd = nil
		}
		e.ussdMu.Unlock()
	}
}

// toUSSD hands a +CUSD answer to the USSD call waiting for it, and reports
// whether one took it.
func (e *engine) toUSSD(line string) bool {
	e.ussdMu.Lock()
	defer e.ussdMu.Unlock()
	select {
	case e.ussd <- line: // never ready while e.ussd is nil
		return true
	default:
		return false
	}
}

// clean trims a raw line and drops control bytes.
func clean(b []byte) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c >= 0x20 && c < 0x7f || c >= 0x80 {
			out = append(out, c)
		}
	}
	return strings.TrimSpace(string(out))
}

// final reports whether line ends a command's reply, and the error it means.
func final(line string) (bool, error) {
	switch {
	case line == "OK":
		return true, nil
	case line == "ERROR", line == "NO CARRIER", line == "BUSY", line == "NO ANSWER", line == "NO DIALTONE":
		return true, fmt.Errorf("%w: %s", ErrCommand, line)
	case strings.HasPrefix(line, "+CMS ERROR:"):
		code := 0
		fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "+CMS ERROR:")), "%d", &code)
		return true, &CMSError{Code: code}
	case strings.HasPrefix(line, "+CME ERROR:"):
		return true, &CMEError{Text: strings.TrimSpace(strings.TrimPrefix(line, "+CME ERROR:"))}
	}
	return false, nil
}

// cleanText is clean for a line of a +CUSD answer: a CR inside it breaks
// the answer's text (modems print a menu's line breaks as they come, CR or
// LF) and is kept as "\n".
func cleanText(b []byte) string {
	b = bytes.TrimRight(b, "\r")
	out := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case c == '\r':
			out = append(out, '\n')
		case c >= 0x20 && c < 0x7f || c >= 0x80:
			out = append(out, c)
		}
	}
	return strings.TrimSpace(string(out))
}

// alive reports whether the reader still runs.
func (e *engine) alive() bool {
	select {
	case <-e.dead:
		return false
	default:
		return true
	}
}

// Command sends "AT"+cmd and returns the information lines of its reply.
func (e *engine) Command(ctx context.Context, cmd string, timeout time.Duration) ([]string, error) {
	e.cmdMu.Lock()
	defer e.cmdMu.Unlock()
	defer e.expect.Store("")
	if err := e.send(ctx, cmd); err != nil {
		return nil, err
	}
	return e.collect(ctx, "AT"+cmd, timeout)
}

// CommandPDU sends a command that prompts for data (AT+CMGS=n), then the
// data and Ctrl-Z, and returns the reply's information lines. When handing
// is not nil it runs between the prompt and the data; an error from it
// cancels the prompt and is returned, and nothing is sent.
func (e *engine) CommandPDU(ctx context.Context, cmd, data string, timeout time.Duration, handing func() error) ([]string, error) {
	e.cmdMu.Lock()
	defer e.cmdMu.Unlock()
	defer e.expect.Store("")
	if err := e.send(ctx, cmd); err != nil {
		return nil, err
	}
	deadline := e.clk.NewTimer(timeout)
	defer deadline.Stop()
	for prompted := false; !prompted; {
		select {
		case <-e.replies.ready:
			line, ok := e.nextReply()
			if !ok {
				continue
			}
			if line == ">" {
				prompted = true
				break
			}
			if isEcho(line, "AT"+cmd) {
				continue
			}
			if done, err := final(line); done {
				if err == nil {
					err = fmt.Errorf("%w: no prompt", ErrCommand)
				}
				return nil, err
			}
		case <-deadline.C():
			// Cancel the prompt if it comes late, and resync next time.
			_, _ = e.rw.Write([]byte{0x1B})
			e.dirty.Store(true)
			return nil, ErrTimeout
		case <-e.dead:
			return nil, ErrClosed
		case <-ctx.Done():
			_, _ = e.rw.Write([]byte{0x1B})
			e.dirty.Store(true)
			return nil, ctx.Err()
		}
	}
	if handing != nil {
		if err := handing(); err != nil {
			_, _ = e.rw.Write([]byte{0x1B})
			e.dirty.Store(true)
			return nil, err
		}
	}
	if _, err := io.WriteString(e.rw, data+"\x1a"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrClosed, err)
	}
	lines, err := e.collect(ctx, "", timeout)
	if err != nil && unanswered(err) {
		// The data is out; only a result code would tell what the modem
		// did with it.
		err = fmt.Errorf("%w: %w", ErrUnconfirmed, err)
	}
	return lines, err
}

// unanswered reports whether a command ended without a result code from the
// modem: a timeout, a closed port or a cancelled wait.
func unanswered(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrClosed) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// cancelPrompt leaves a +CMGS prompt that a previous program (killed between
// the command and its PDU) may have left open: a modem in that state takes
// every command as text for the message and answers nothing. ESC cancels the
// prompt; in command mode it is a stray byte before "AT", which V.250 modems
// skip. A cancelled prompt may answer OK, so the line is then left to go
// quiet and whatever came is dropped, before the first command. (The marker
// resynchronisation is not used here: a modem answering ERROR to everything
// would make it fail, where a plain AT gets through.)
func (e *engine) cancelPrompt(ctx context.Context) error {
	if _, err := e.rw.Write([]byte{0x1B}); err != nil {
		return fmt.Errorf("%w: %v", ErrClosed, err)
	}
	quiet := e.clk.NewTimer(resyncQuiet)
	defer func() { quiet.Stop() }()
	for {
		select {
		case <-e.replies.ready:
		case <-quiet.C():
			if !e.replies.pending() {
				return nil
			}
			// Lines came as the wait ended: the line is not quiet yet.
		case <-e.dead:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
		for {
			if _, ok := e.nextReply(); !ok {
				break
			}
		}
		quiet.Stop()
		quiet = e.clk.NewTimer(resyncQuiet)
	}
}

// send makes cmd the command in flight and writes it; the caller holds
// cmdMu and clears expect when the reply is in.
func (e *engine) send(ctx context.Context, cmd string) error {
	if err := e.prepare(ctx); err != nil {
		return err
	}
	e.expect.Store(expectedPrefix(cmd))
	if _, err := io.WriteString(e.rw, "AT"+cmd+"\r"); err != nil {
		return fmt.Errorf("%w: %v", ErrClosed, err)
	}
	return nil
}

// collect gathers a reply until its final result code.
func (e *engine) collect(ctx context.Context, echo string, timeout time.Duration) ([]string, error) {
	deadline := e.clk.NewTimer(timeout)
	defer deadline.Stop()
	var lines []string
	stale := false // inside a late answer to a resynchronisation
	for {
		select {
		case <-e.replies.ready:
			line, ok := e.nextReply()
			if !ok {
				continue
			}
			if echo != "" && isEcho(line, echo) {
				continue
			}
			if hasPrefix(line, "+CMEE:") && !hasPrefix(echo, "AT+CMEE") {
				// Only a resynchronisation asks +CMEE?; this answer and
				// its OK are not this command's.
				stale = true
				e.junk.Add(1)
				continue
			}
			if done, err := final(line); done {
				if stale {
					stale = false
					e.junk.Add(1)
					continue
				}
				return lines, err
			}
			if line != ">" {
				lines = append(lines, line)
			}
		case <-deadline.C():
			e.dirty.Store(true)
			return lines, ErrTimeout
		case <-e.dead:
			return lines, ErrClosed
		case <-ctx.Done():
			e.dirty.Store(true)
			return lines, ctx.Err()
		}
	}
}

// prepare drops stale reply lines, and after a timeout resynchronises, so
// that a late reply to the timed-out command cannot be taken for the next
// command's.
func (e *engine) prepare(ctx context.Context) error {
	if !e.alive() {
		return ErrClosed
	}
	e.drain()
	if !e.dirty.Load() {
		return nil
	}
	for try := 0; try < 5; try++ {
		synced, err := e.resync(ctx)
		if err != nil {
			return err
		}
		if synced {
			e.dirty.Store(false)
			e.drain()
			return nil
		}
	}
	return fmt.Errorf("%w: no answer to AT+CMEE? while resynchronising", ErrTimeout)
}

// resyncQuiet is how long the line must stay silent after the marker reply
// before the engine counts itself in step with the modem. It is longer than
// a slow modem's answer (100-300 ms), so that an answer still on its way is
// seen here rather than by the next command.
const resyncQuiet = 600 * time.Millisecond

// resync sends ESC and AT+CMEE? and reports whether its own reply, "+CMEE: n" then
// OK, came as the last thing before a quiet spell. A bare OK proves
// nothing: it may end the late reply to the command that timed out, and
// taking it for the marker's would shift every later reply by one command
// (the reply to reading slot 2 handed to the read of slot 3, whose delete
// would then remove an unread message). +CMEE? needs no SIM, and no other
// command the driver sends answers with +CMEE:.
func (e *engine) resync(ctx context.Context) (bool, error) {
	// The ESC first cancels a +CMGS prompt that opened after the engine
	// had given up waiting for it; otherwise the marker would become
	// message text. In command mode it is a stray byte V.250 modems skip.
	if _, err := io.WriteString(e.rw, "\x1bAT+CMEE?\r"); err != nil {
		return false, fmt.Errorf("%w: %v", ErrClosed, err)
	}
	marker, synced := false, false
	quiet := e.clk.NewTimer(2 * time.Second)
	defer func() { quiet.Stop() }()
	for {
		select {
		case <-e.replies.ready:
		case <-quiet.C():
			if !e.replies.pending() {
				return synced, nil
			}
			// Lines came as the wait ended: they count before the verdict.
		case <-e.dead:
			return false, ErrClosed
		case <-ctx.Done():
			return false, ctx.Err()
		}
		for {
			line, ok := e.nextReply()
			if !ok {
				break
			}
			switch {
			case hasPrefix(line, "+CMEE:"):
				marker, synced = true, false
			case line == "OK" && marker:
				marker, synced = false, true
			case isEcho(line, "AT+CMEE?"):
			default:
				marker, synced = false, false
			}
		}
		quiet.Stop()
		quiet = e.clk.NewTimer(resyncQuiet)
	}
}

// drain discards reply lines nobody waits for.
func (e *engine) drain() {
	for {
		if _, ok := e.nextReply(); !ok {
			return
		}
		e.junk.Add(1)
	}
}

// nextReply takes the oldest line of the replies queue, if any.
func (e *engine) nextReply() (string, bool) {
	u, ok := e.replies.pop()
	return u.line, ok
}

// isEcho reports whether line is the modem echoing cmd.
func isEcho(line, cmd string) bool {
	return strings.EqualFold(line, cmd) || len(line) >= 2 && strings.EqualFold(line[:2], "AT")
}

// expectedPrefix is what a command's information lines start with:
// "+CREG" for "+CREG?", "" for basic commands.
func expectedPrefix(cmd string) string {
	if len(cmd) == 0 || (cmd[0] != '+' && cmd[0] != '^') {
		return ""
	}
	i := strings.IndexAny(cmd, "=?")
	if i < 0 {
		i = len(cmd)
	}
	return cmd[:i] + ":"
}

// lineQueueMax bounds a queue of lines; beyond it the oldest are dropped
// and counted. For indications a lost +CMTI is recovered by the next sweep;
// no command's reply comes near it (a full 255-slot storage listed by
// +CMGL is about 520 lines).
const lineQueueMax = 10000

// lineQueue holds lines in arrival order: indications, or the reply of the
// command in flight. The reader never blocks on it: a reader blocked
// behind a slow consumer would stop reading the port, and the consumer's
// next command would never see its reply.
type lineQueue struct {
	mu      sync.Mutex
	q       []urc
	dropped int
	ready   chan struct{} // has a value while the queue is not empty
}

func newLineQueue() *lineQueue { return &lineQueue{ready: make(chan struct{}, 1)} }

func (u *lineQueue) push(x urc) {
	u.mu.Lock()
	if len(u.q) >= lineQueueMax {
		u.q = u.q[1:]
		u.dropped++
	}
	u.q = append(u.q, x)
	u.mu.Unlock()
	select {
	case u.ready <- struct{}{}:
	default:
	}
}

// droppedCount is how many lines the queue dropped.
func (u *lineQueue) droppedCount() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.dropped
}

// pending reports whether the queue holds a line.
func (u *lineQueue) pending() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.q) > 0
}

// pop returns the oldest line, if any.
func (u *lineQueue) pop() (urc, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.q) == 0 {
		return urc{}, false
	}
	x := u.q[0]
	u.q = u.q[1:]
	if len(u.q) > 0 {
		select {
		case u.ready <- struct{}{}:
		default:
		}
	}
	return x, true
}
