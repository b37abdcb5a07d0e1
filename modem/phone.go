package modem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/simhook/simhook/internal/clock"
)

// Phone drives one modem: it connects, initialises, receives, reports and
// reconnects until its context ends.
type Phone struct {
	cfg Config
	h   Handler
	log *slog.Logger

	mu    sync.Mutex
	state State
	eng   *engine // nil while down
	live  *engine // the session's engine, also while initialising (for Stats)
	port  string
	// capacity is the receive storage's size from +CPMS (0 if unknown).
	capacity int
	// handled holds slots whose content the handler accepted but whose
	// delete failed, by index, with that content. It outlives a session:
	// after a reconnect the sweep deletes them rather than offering them
	// again. (A process restart forgets it; Message.Key covers that.)
	handled map[int]string
	// pinRefused: the SIM refused the configured PIN; it is not sent again.
	pinRefused bool

	refMu   sync.Mutex
	nextRef uint16

	// ussdMu holds one USSD session at a time: an answer cannot be told
	// apart from another's.
	ussdMu sync.Mutex

	trace traceState
	sink  *lineSink

	stats counters
}

// counters are the driver's own counts.
type counters struct {
	mu                        sync.Mutex
	malformed, junk, timeouts int
	dropped                   int // indications dropped by finished sessions' engines
}

// Stats are a phone's running counts of what it skipped or survived. Bad
// input is logged, counted here and skipped; it never stops the phone.
type Stats struct {
	// Malformed counts stored PDUs that could not be decoded.
	Malformed int
	// Junk counts lines on the serial line that made no sense.
	Junk int
	// Timeouts counts commands the modem did not answer in time.
	Timeouts int
	// DroppedIndications counts indications dropped from a full queue
	// (a sweep recovers the messages they announced).
	DroppedIndications int
}

// Stats returns the phone's counts since NewPhone.
func (p *Phone) Stats() Stats {
	p.mu.Lock()
	eng := p.live
	p.mu.Unlock()
	p.stats.mu.Lock()
	st := Stats{Malformed: p.stats.malformed, Junk: p.stats.junk, Timeouts: p.stats.timeouts, DroppedIndications: p.stats.dropped}
	p.stats.mu.Unlock()
	if eng != nil {
		st.Junk += int(eng.junk.Load())
		st.DroppedIndications += eng.urcs.droppedCount()
	}
	return st
}

// retire adds a finished session's engine counts to the phone's.
func (p *Phone) retire(eng *engine) {
	p.stats.mu.Lock()
	p.stats.junk += int(eng.junk.Load())
	p.stats.dropped += eng.urcs.droppedCount()
	p.stats.mu.Unlock()
}

// NewPhone prepares a phone; Run drives it.
func NewPhone(cfg Config, h Handler) *Phone {
	cfg = cfg.withDefaults()
	p := &Phone{cfg: cfg, h: h, log: cfg.Logger}
	p.sink = newLineSink(p.emitTrace)
	p.trace.logged.Store(cfg.Trace)
	p.trace.on.Store(cfg.Trace)
	p.state = State{Phone: cfg.ID, Status: "connecting", Signal: 99, Port: cfg.Port, Since: p.now()}
	p.nextRef = uint16(p.now().UnixNano()%250) + 1
	return p
}

// now is the time on the phone's clock.
func (p *Phone) now() time.Time { return p.cfg.Clock.Now() }

// State returns the phone's last state.
func (p *Phone) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// setState changes the state and tells the handler.
func (p *Phone) setState(fn func(s *State)) {
	p.mu.Lock()
	before := p.state
	fn(&p.state)
	if p.state.Status != before.Status {
		p.state.Since = p.now()
	}
	s := p.state
	p.mu.Unlock()
	p.h.HandleState(s)
}

// storageCapacity is the receive storage's size as the modem reported it.
func (p *Phone) storageCapacity() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.capacity
}

// wasHandled reports whether slot idx holds content already handed over.
func (p *Phone) wasHandled(idx int, line string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.handled[idx] == line && line != ""
}

// setHandled records (line != "") or forgets (line == "") a handed-over
// slot that is still on the modem.
func (p *Phone) setHandled(idx int, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if line == "" {
		delete(p.handled, idx)
		return
	}
	if p.handled == nil {
		p.handled = make(map[int]string)
	}
	p.handled[idx] = line
}

// engine returns the current AT engine, or nil while down.
func (p *Phone) engine() *engine {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.eng
}

// Run connects and serves until ctx ends, reconnecting whenever the modem
// goes away or stops making sense. It returns only when ctx is done.
//
// A missing device is waited for, not retried: the phone watches the
// port's directory (or, for a matched phone, the directories where serial
// ports appear) and opens the device as soon as it is there. The backoff
// paces only sessions that fail with the device present (open errors,
// initialisation failures); it starts again from Backoff.Initial as soon as
// a session reaches up.
func (p *Phone) Run(ctx context.Context) error {
	dw := newDevWatch(p.log, p.cfg.devPoll, p.cfg.Clock)
	defer dw.Close()
	pace := newPacer(p.cfg.Backoff)
	for ctx.Err() == nil {
		if p.cfg.Port != "" && !devicePresent(p.cfg.Port) {
			p.waitForDevice(ctx, dw)
			continue
		}
		p.setState(func(s *State) { s.Status = "connecting"; s.Absent = false })
		up, err := p.session(ctx)
		if ctx.Err() != nil {
			break
		}
		missing := errors.Is(err, errNoDevice) || p.cfg.Port != "" && !devicePresent(p.cfg.Port)
		wait := pace.ended(up, missing)
		p.setState(func(s *State) {
			s.Status = "down"
			s.Reconnects++
			if err != nil {
				s.LastError = err.Error()
			}
		})
		if missing {
			p.log.Warn("phone down: device gone; waiting for it", "phone", p.cfg.ID, "err", err)
			if p.cfg.Port == "" {
				p.waitForMatch(ctx, dw)
			}
			continue
		}
		p.log.Warn("phone down; reconnecting", "phone", p.cfg.ID, "err", err, "in", wait)
		// A device that vanishes or is created again during the wait (a
		// re-enumeration whose node outlived the read error) ends it.
		dw.changed(ctx, p.cfg.Port, wait)
	}
	p.setState(func(s *State) { s.Status = "down"; s.LastError = "stopped" })
	return nil
}

// waitForDevice waits for the configured port to appear.
func (p *Phone) waitForDevice(ctx context.Context, dw *devWatch) {
	p.setState(func(s *State) { s.Status = "down"; s.Absent = true })
	p.log.Info("waiting for the modem to appear", "phone", p.cfg.ID, "port", p.cfg.Port)
	if dw.waitPresent(ctx, p.cfg.Port) == nil {
		p.log.Info("modem appeared", "phone", p.cfg.ID, "port", p.cfg.Port)
	}
}

// matchRecheck is how often a matched phone whose modem was not found
// looks again without any new port having appeared.
const matchRecheck = 30 * time.Second

// waitForMatch waits until a new serial port appears (or matchRecheck
// passes) before a matched phone looks for its modem again.
func (p *Phone) waitForMatch(ctx context.Context, dw *devWatch) {
	p.setState(func(s *State) { s.Status = "down"; s.Absent = true })
	_ = dw.waitNewPort(ctx, p.cfg.matchDirs, matchRecheck, 100*time.Millisecond)
}

// session opens the port, initialises the modem and serves it until an
// error or ctx ends. up reports whether it got as far as serving.
func (p *Phone) session(ctx context.Context) (up bool, err error) {
	path, err := p.findPort(ctx)
	if err != nil {
		return false, err
	}
	release, ok := claimPort(path)
	if !ok {
		return false, fmt.Errorf("open %s: in use by another phone", path)
	}
	defer release()
	port, err := p.open(ctx, path)
	if err != nil {
		return false, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Closing the port is what stops the engine's reader.
	closed := make(chan struct{})
	go func() {
		select {
		case <-sctx.Done():
		case <-closed:
		}
		port.Close()
	}()
	defer close(closed)
	eng := newEngine(newTracer(port, &p.trace.on, p.sink), p.cfg.Clock)
	p.mu.Lock()
	p.live = eng
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.eng, p.live = nil, nil
		p.mu.Unlock()
		p.retire(eng)
	}()
	if err := p.initialise(sctx, eng); err != nil {
		return false, err
	}
	p.mu.Lock()
	p.eng, p.port = eng, path
	p.mu.Unlock()
	p.setState(func(s *State) { s.Status = "up"; s.Port = path; s.LastError = "" })
	p.log.Info("phone up", "phone", p.cfg.ID, "port", path)
	return true, p.serve(sctx, eng)
}

// openGrace is how long after a device appeared an open that fails is
// tried again at once: udev sets the node's group and mode a few
// milliseconds after the kernel creates it.
const openGrace = 2 * time.Second

// open opens the serial port, retrying briefly while the node is new.
func (p *Phone) open(ctx context.Context, path string) (io.ReadWriteCloser, error) {
	first := p.now()
	for {
		port, err := openSerial(path, p.cfg.Baud)
		if err == nil {
			return port, nil
		}
		if !devicePresent(path) {
			return nil, fmt.Errorf("open %s: %w: %v", path, errNoDevice, err)
		}
		if clock.Since(p.cfg.Clock, first) > openGrace {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		if !clock.Sleep(p.cfg.Clock, 100*time.Millisecond, ctx.Done()) {
			return nil, ctx.Err()
		}
	}
}

// findPort resolves the configured port or match.
func (p *Phone) findPort(ctx context.Context) (string, error) {
	if p.cfg.Port != "" {
		return p.cfg.Port, nil
	}
	path, err := p.match(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errNoDevice, err)
	}
	return path, nil
}

// cmd runs one command with the default timeout.
func (p *Phone) cmd(ctx context.Context, eng *engine, c string) ([]string, error) {
	lines, err := eng.Command(ctx, c, p.cfg.CommandTimeout)
	if errors.Is(err, ErrTimeout) {
		p.stats.mu.Lock()
		p.stats.timeouts++
		p.stats.mu.Unlock()
	}
	return lines, err
}

// dueFloor is the least time between two wakes for due work when the work
// is still due after the first: a guard against spinning, never reached
// in normal operation (every due action moves its deadline on).
const dueFloor = 500 * time.Millisecond

// serve handles indications, probes and sweeps until the port fails.
//
// An idle phone wakes only for its health probe and its safety sweep. The
// rest (a call's caller id, ring gap and +CLCC check; a sweep after a
// failed read, a retry of a refused message, an incomplete message's
// timeout) arms one timer for the earliest such deadline, and none while
// nothing is due.
func (p *Phone) serve(ctx context.Context, eng *engine) error {
	clk := p.cfg.Clock
	r := newReceiver(p)
	if err := r.sweep(ctx, eng); err != nil && !errors.Is(err, ErrCommand) {
		return err
	}
	probe := clk.NewTimer(p.cfg.ProbeInterval)
	defer func() { probe.Stop() }()
	sweep := clk.NewTimer(p.cfg.SweepInterval)
	defer func() { sweep.Stop() }()
	calls := newCallTracker(p)
	var due wake
	defer due.stop()
	var floor time.Time // no wake for work still due before this
	failures := 0
	dropped := eng.urcs.droppedCount()
	for {
		at, ok := nextDue(calls, r)
		if ok && at.Before(floor) && !at.After(clk.Now()) {
			at = floor
		}
		due.arm(clk, at, ok)
		select {
		case <-ctx.Done():
			calls.endAll(ctx)
			return ctx.Err()
		case <-eng.dead:
			calls.endAll(ctx)
			if eng.err != nil && !errors.Is(eng.err, io.EOF) {
				return fmt.Errorf("%w: %v", ErrClosed, eng.err)
			}
			return ErrClosed
		case <-eng.urcs.ready:
			if err := p.handleQueued(ctx, eng, r, calls); err != nil {
				return err
			}
			if d := eng.urcs.droppedCount(); d > dropped {
				r.sweepSoon(fmt.Errorf("%d indications dropped (queue full)", d-dropped))
				dropped = d
			}
		case <-due.c():
			due.fired()
			calls.tick(ctx, eng)
			if r.hasDue() {
				if err := r.sweep(ctx, eng); errors.Is(err, ErrClosed) {
					return err
				}
			}
			floor = clk.Now().Add(dueFloor)
		case <-probe.C():
			err := p.probe(ctx, eng)
			probe = clk.NewTimer(p.cfg.ProbeInterval)
			if err != nil {
				failures++
				p.log.Warn("health probe failed", "phone", p.cfg.ID, "err", err, "failures", failures)
				if failures >= 3 || errors.Is(err, ErrClosed) {
					return fmt.Errorf("health probe: %w", err)
				}
				continue
			}
			failures = 0
		case <-sweep.C():
			err := r.sweep(ctx, eng)
			sweep = clk.NewTimer(p.cfg.SweepInterval)
			if errors.Is(err, ErrClosed) {
				return err
			}
		}
	}
}

// nextDue is the earliest deadline of the call tracker and the receiver,
// and false when neither has one.
func nextDue(calls *callTracker, r *receiver) (time.Time, bool) {
	at, ok := calls.due()
	if rat, rok := r.due(); rok && (!ok || rat.Before(at)) {
		at, ok = rat, true
	}
	return at, ok
}

// wake is serve's timer for due work: armed for one deadline, re-armed
// only when the deadline changes, and stopped when nothing is due.
type wake struct {
	t  clock.Timer // nil while disarmed or fired
	at time.Time
}

// arm sets the timer for at, or stops it when ok is false.
func (w *wake) arm(clk clock.Clock, at time.Time, ok bool) {
	if !ok {
		w.stop()
		return
	}
	if w.t != nil && w.at.Equal(at) {
		return
	}
	w.stop()
	w.t, w.at = clk.NewTimer(at.Sub(clk.Now())), at
}

// stop disarms the timer.
func (w *wake) stop() {
	if w.t != nil {
		w.t.Stop()
		w.t = nil
	}
}

// fired records that the timer's time came.
func (w *wake) fired() { w.t = nil }

// c is the timer's channel, nil (never ready) while disarmed.
func (w *wake) c() <-chan time.Time {
	if w.t == nil {
		return nil
	}
	return w.t.C()
}

// handleQueued acts on every queued indication. When several new-message
// indications are waiting (a burst), one AT+CMGL reads them all instead of
// one AT+CMGR each: on a modem that takes 100-300 ms per command that halves
// the time a burst takes.
func (p *Phone) handleQueued(ctx context.Context, eng *engine, r *receiver, calls *callTracker) error {
	var batch []urc
	for {
		u, ok := eng.urcs.pop()
		if !ok {
			break
		}
		batch = append(batch, u)
	}
	stored := 0
	for _, u := range batch {
		if hasPrefix(u.line, "+CMTI:") || hasPrefix(u.line, "+CDSI:") {
			stored++
		}
	}
	swept := false
	for _, u := range batch {
		isStored := hasPrefix(u.line, "+CMTI:") || hasPrefix(u.line, "+CDSI:")
		if isStored && stored > 1 {
			if swept {
				continue
			}
			swept = true
			if err := r.sweep(ctx, eng); errors.Is(err, ErrClosed) {
				return err
			}
			continue
		}
		if err := p.handleURC(ctx, eng, r, calls, u); err != nil && errors.Is(err, ErrClosed) {
			return err
		}
	}
	return nil
}

// handleURC acts on one indication.
func (p *Phone) handleURC(ctx context.Context, eng *engine, r *receiver, calls *callTracker, u urc) error {
	switch {
	case hasPrefix(u.line, "+CMTI:"), hasPrefix(u.line, "+CDSI:"):
		mem, idx, ok := parseStorageIndex(u.line)
		if !ok {
			p.countJunk(1)
			return nil
		}
		if hasPrefix(u.line, "+CMTI:") && mem != "" && !strings.EqualFold(mem, p.cfg.Storage) {
			// The index counts in another storage than the one reads
			// use (a class 2 message kept on the SIM while reading ME,
			// or any indication with the combined MT): reading it by
			// index would read a different slot. A sweep lists what the
			// read storage holds.
			r.sweepSoon(fmt.Errorf("indication for storage %s while reading %s; set storage to match if this repeats", mem, p.cfg.Storage))
			return nil
		}
		return r.read(ctx, eng, idx)
	case hasPrefix(u.line, "+CDS:"):
		return r.directReport(ctx, eng, u.pdu)
	case hasPrefix(u.line, "+CMT:"):
		return r.directMessage(ctx, eng, u.pdu)
	case u.line == "RING" || hasPrefix(u.line, "+CRING:"):
		calls.ring(ctx, eng)
	case hasPrefix(u.line, "+CLIP:"):
		calls.clip(ctx, eng, parseCLIP(u.line))
	case u.line == "NO CARRIER":
		calls.hungUp(ctx)
	case hasPrefix(u.line, "+CREG:"):
		p.setState(func(s *State) { s.Registration = registrationName(u.line) })
	case hasPrefix(u.line, "+CUSD:"):
		p.ussdUnasked(u.line)
	default:
		p.log.Debug("ignored unsolicited line", "phone", p.cfg.ID, "line", u.line)
	}
	return nil
}

// probe checks the modem answers and refreshes signal and registration.
func (p *Phone) probe(ctx context.Context, eng *engine) error {
	lines, err := p.cmd(ctx, eng, "+CSQ")
	if err != nil {
		return err
	}
	p.countJunk(strayLines(lines, "+CSQ:"))
	sig := 99
	for _, l := range lines {
		if hasPrefix(l, "+CSQ:") {
			fmt.Sscanf(l[len("+CSQ:"):], " %d", &sig)
		}
	}
	reg := ""
	if lines, err := p.cmd(ctx, eng, "+CREG?"); err == nil {
		p.countJunk(strayLines(lines, "+CREG:"))
		for _, l := range lines {
			if hasPrefix(l, "+CREG:") {
				reg = registrationName(l)
			}
		}
	}
	p.setState(func(s *State) {
		s.Signal = sig
		if reg != "" {
			s.Registration = reg
		}
	})
	return nil
}

// countJunk records n lines on the serial line that made no sense.
func (p *Phone) countJunk(n int) {
	if n == 0 {
		return
	}
	p.stats.mu.Lock()
	p.stats.junk += n
	p.stats.mu.Unlock()
}

// Reset asks the modem for a full functionality reset (AT+CFUN=1,1), the
// cure for a modem that answers but no longer registers or sends. A USB
// modem then re-enumerates: the phone goes down, waits for its device to
// come back and initialises it again, without growing its backoff.
func (p *Phone) Reset(ctx context.Context) error {
	eng := p.engine()
	if eng == nil {
		return ErrNotReady
	}
	if _, err := p.cmd(ctx, eng, "+CFUN=1,1"); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	p.log.Warn("modem reset (AT+CFUN=1,1); it will re-enumerate", "phone", p.cfg.ID)
	return nil
}
