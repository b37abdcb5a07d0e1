package modem

import (
	"bytes"
	"io"
	"regexp"
	"sync"
	"sync/atomic"

	"github.com/warthog618/modem/trace"
)

// The AT trace is what gammu and smstools give in debug mode: every line
// exchanged with the modem, for when one misbehaves. It is built on
// github.com/warthog618/modem's trace decorator, which hands each read and
// write of an io.ReadWriter to a Logger's Printf. Its chunks (a read may
// hold half a line or three lines) are reassembled here into lines per
// direction, PINs and passwords are masked, and each line goes to the
// phone's slog logger at debug level and to any live subscriber
// (simhook phone trace).

// TraceLine is one line exchanged with a modem.
type TraceLine struct {
	// Dir is "w" for what the phone wrote, "r" for what the modem said.
	Dir string `json:"dir"`
	// Line is the line without its line ending, secrets masked.
	Line string `json:"line"`
}

// tracer sits between the AT engine and the serial port. While off it is a
// plain pass-through; while on, what is read and written goes through
// warthog618/modem's trace, whose Logger is a lineSink.
//
// The engine's reader is nearly always blocked in a Read that began before
// the trace was switched on, so the choice is made when a read returns: the
// bytes come from the port, and the trace then reads them from a replay of
// that chunk. Writes go through the trace to the port directly.
type tracer struct {
	raw    io.ReadWriter
	on     *atomic.Bool
	replay *replay
	tr     *trace.Trace
}

// replay hands the trace the chunk the port just returned; it writes
// through to the port.
type replay struct {
	chunk []byte
	port  io.Writer
}

func (r *replay) Read(p []byte) (int, error) {
	n := copy(p, r.chunk)
	r.chunk = r.chunk[n:]
	return n, nil
}

func (r *replay) Write(p []byte) (int, error) { return r.port.Write(p) }

func newTracer(raw io.ReadWriter, on *atomic.Bool, sink *lineSink) *tracer {
	rp := &replay{port: raw}
	// The formats are only direction tags: Printf gets the chunk itself.
	tr := trace.New(rp, trace.WithLogger(sink), trace.WithReadFormat("r"), trace.WithWriteFormat("w"))
	return &tracer{raw: raw, on: on, replay: rp, tr: tr}
}

// Read is called by the engine's one reader goroutine only.
func (t *tracer) Read(p []byte) (int, error) {
	n, err := t.raw.Read(p)
	if n > 0 && t.on.Load() {
		t.replay.chunk = p[:n]
		_, _ = t.tr.Read(p[:n])
		t.replay.chunk = nil
	}
	return n, err
}

func (t *tracer) Write(p []byte) (int, error) {
	if t.on.Load() {
		return t.tr.Write(p)
	}
	return t.raw.Write(p)
}

// lineSink is the trace's Logger: it gets each chunk with its direction,
// cuts the chunks of each direction into lines and emits them.
type lineSink struct {
	mu   sync.Mutex
	part map[string][]byte
	emit func(TraceLine)
}

func newLineSink(emit func(TraceLine)) *lineSink {
	return &lineSink{part: make(map[string][]byte), emit: emit}
}

// Printf takes one chunk: format is its direction ("r" or "w") and v[0]
// the bytes read or written.
func (s *lineSink) Printf(format string, v ...any) {
	if len(v) != 1 {
		return
	}
	chunk, ok := v[0].([]byte)
	if !ok {
		return
	}
	dir := format
	s.mu.Lock()
	buf := append(s.part[dir], chunk...)
	var lines []TraceLine
	for {
		// Ctrl-Z and ESC end a PDU typed at the +CMGS prompt.
		i := bytes.IndexAny(buf, "\r\n\x1a\x1b")
		if i < 0 {
			break
		}
		if i > 0 {
			lines = append(lines, TraceLine{Dir: dir, Line: maskSecrets(string(buf[:i]))})
		}
		buf = buf[i+1:]
	}
	// A +CMGS prompt ("> ") ends no line; show it as it comes.
	if dir == "r" && bytes.HasSuffix(buf, []byte("> ")) {
		lines = append(lines, TraceLine{Dir: dir, Line: string(buf)})
		buf = buf[:0]
	}
	if len(buf) > 4096 { // a line that never ends: show it in pieces
		lines = append(lines, TraceLine{Dir: dir, Line: maskSecrets(string(buf))})
		buf = buf[:0]
	}
	s.part[dir] = append(s.part[dir][:0], buf...)
	s.mu.Unlock()
	for _, l := range lines {
		s.emit(l)
	}
}

// secretArgs finds the commands whose arguments carry a PIN, PUK or
// password: +CPIN (PIN, or PUK and new PIN), +CPWD (old and new
// password), and +CLCK's password after the facility and mode.
var secretArgs = regexp.MustCompile(`(?i)^(AT)?(\+CPIN2?=|\+CPWD=|\+CLCK=[^,]*,[^,]*,)(.*)$`)

// maskSecrets hides the secret arguments of a command line.
func maskSecrets(line string) string {
	m := secretArgs.FindStringSubmatchIndex(line)
	if m == nil || m[6] == m[7] {
		return line
	}
	return line[:m[6]] + "****"
}

// traceState is a phone's trace: on while the configuration asks for it
// (logged at debug level) or while someone subscribes (simhook phone trace).
type traceState struct {
	on     atomic.Bool // either of the two: the tracer looks at it
	logged atomic.Bool
	mu     sync.Mutex
	subs   map[chan TraceLine]int // subscriber → lines it missed
}

// update recomputes on; t.mu is held.
func (t *traceState) update() {
	t.on.Store(t.logged.Load() || len(t.subs) > 0)
}

// SetTrace turns logging of the AT conversation at debug level on or off
// (the phone's trace setting; it applies at once, without a reconnect).
func (p *Phone) SetTrace(on bool) {
	p.trace.mu.Lock()
	p.trace.logged.Store(on)
	p.trace.update()
	p.trace.mu.Unlock()
}

// SubscribeTrace streams the AT conversation until stop is called. Lines
// that the subscriber does not take in time are dropped, so a slow reader
// never holds up the modem; stop returns how many.
func (p *Phone) SubscribeTrace() (lines <-chan TraceLine, stop func() (dropped int)) {
	ch := make(chan TraceLine, 256)
	p.trace.mu.Lock()
	if p.trace.subs == nil {
		p.trace.subs = make(map[chan TraceLine]int)
	}
	p.trace.subs[ch] = 0
	p.trace.update()
	p.trace.mu.Unlock()
	var once sync.Once
	dropped := 0
	return ch, func() int {
		once.Do(func() {
			p.trace.mu.Lock()
			dropped = p.trace.subs[ch]
			delete(p.trace.subs, ch)
			p.trace.update()
			p.trace.mu.Unlock()
			close(ch)
		})
		return dropped
	}
}

// emitTrace hands one line to the log and the subscribers.
func (p *Phone) emitTrace(l TraceLine) {
	if p.trace.logged.Load() {
		p.log.Debug("at", "phone", p.cfg.ID, "dir", l.Dir, "line", l.Line)
	}
	p.trace.mu.Lock()
	defer p.trace.mu.Unlock()
	for ch := range p.trace.subs {
		select {
		case ch <- l:
		default:
			p.trace.subs[ch]++
		}
	}
}
