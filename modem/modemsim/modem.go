package modemsim

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/simhook/simhook/internal/clock"
)

// Options configures a simulated modem.
type Options struct {
	// Profile is the vendor behaviour; the zero value means Generic.
	Profile Profile
	// IMEI, IMSI and ICCID identify the modem and its SIM (defaults are
	// fixed fake values).
	IMEI, IMSI, ICCID string
	// PIN, if set, is required before the SIM can be used.
	PIN string
	// SMSC is the service centre number (default "+33609001390").
	SMSC string
	// Capacity is the number of slots per storage (default SM 30, ME 100).
	Capacity map[string]int
	// ReplyDelay is the time before each command's answer (real modems take
	// 100-300 ms).
	ReplyDelay time.Duration
	// RingInterval is the time between RINGs (default 3s).
	RingInterval time.Duration
	// ReenumerateDelay is how long the port stays away after AT+CFUN=1,1
	// (a USB modem resets and enumerates again; default 1.5s).
	ReenumerateDelay time.Duration
	// Link, if set, is a symlink (like /dev/serial/by-id/...) kept pointing
	// at the current pty, also across Replug.
	Link string
	// Logger, nil means discard.
	Logger *slog.Logger
	// OnURC is called as each unsolicited line is written.
	OnURC func(line string, at time.Time)
	// Now is the clock for timestamps and hangs (default Clock's Now).
	Now func() time.Time
	// Clock times the reply delays (nil: the real clock), so that a test
	// on a fake clock orders a slow modem's answers with the client's
	// timeouts. Rings and re-enumeration run on the real clock.
	Clock clock.Clock
}

// Modem is a simulated GSM modem on a pseudo-terminal.
type Modem struct {
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	master *os.File
	slave  string
	closed bool
	wg     sync.WaitGroup
	stop   chan struct{}

	// Settings a power cycle resets.
	echo    bool
	cmee    int
	cmgf    int
	cnmi    [5]int
	cpms    [3]string
	clip    bool
	creg    int
	pinOK   bool
	prompt  bool // waiting for a PDU after +CMGS
	pduLen  int
	pending []byte
	cusdN   int // AT+CUSD=<n>: 1 presents USSD answers
	// ussdOpen: the last USSD answer asked for further action (m=1) and
	// no AT+CUSD=2 closed the session since.
	ussdOpen bool
	// after are unsolicited lines due once the answer of the command in
	// flight is out (a USSD answer after its OK).
	after []delayedURC

	// What survives a power cycle: the SIM, the reference counter, history.
	stores   map[string]*store
	mr       int
	sent     []SentPart
	rules    map[string]SendRule
	ussd     map[string]USSDAnswer // the network's USSD answers by code
	commands []string
	calls    []*Call

	hangUntil time.Time
	// resetPending: the command just answered was AT+CFUN=1,1; the port
	// goes away once the answer is out.
	resetPending bool
	resets       int
	pluggedAt    time.Time
	errorStorm   int
	replyDelay   time.Duration
	concatRef    int
}

// ErrClosed is returned by operations on a closed modem.
var ErrClosed = errors.New("modemsim: closed")

// New makes the pty, powers the modem up and serves until Close.
func New(opts Options) (*Modem, error) {
	if opts.Profile.Name == "" {
		opts.Profile = Generic
	}
	if opts.IMEI == "" {
		opts.IMEI = "356938035643809"
	}
	if opts.IMSI == "" {
		opts.IMSI = "208150123456789"
	}
	if opts.ICCID == "" {
		opts.ICCID = "8933150319120345678"
	}
	if opts.SMSC == "" {
		opts.SMSC = "+33609001390"
	}
	if opts.ReenumerateDelay <= 0 {
		opts.ReenumerateDelay = 1500 * time.Millisecond
	}
	if opts.RingInterval <= 0 {
		opts.RingInterval = 3 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Clock = clock.Or(opts.Clock)
	if opts.Now == nil {
		opts.Now = opts.Clock.Now
	}
	caps := map[string]int{"SM": 30, "ME": 100}
	for k, v := range opts.Capacity {
		caps[k] = v
	}
	m := &Modem{opts: opts, log: opts.Logger, stores: make(map[string]*store), rules: make(map[string]SendRule),
		ussd: make(map[string]USSDAnswer),
		stop: make(chan struct{}), replyDelay: opts.ReplyDelay, mr: 0, concatRef: 1}
	for name, n := range caps {
		m.stores[name] = newStore(n)
	}
	m.stores["MT"] = m.stores["SM"]
	if err := m.plug(); err != nil {
		return nil, err
	}
	return m, nil
}

// Path is what a client opens: the Link if set, else the pty slave.
func (m *Modem) Path() string {
	if m.opts.Link != "" {
		return m.opts.Link
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.slave
}

// Close stops the modem and waits for its goroutines.
func (m *Modem) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.stop)
	for _, c := range m.calls {
		c.endLocked(false)
	}
	master := m.master
	m.master = nil
	m.mu.Unlock()
	var err error
	if master != nil {
		err = master.Close()
	}
	m.wg.Wait()
	if m.opts.Link != "" {
		_ = os.Remove(m.opts.Link)
	}
	return err
}

// plug makes a new pty, resets the settings as a power cycle does, points
// the link at it and starts serving it.
func (m *Modem) plug() error {
	master, slave, err := openPTY()
	if err != nil {
		return err
	}
	if m.opts.Link != "" {
		if err := os.MkdirAll(filepath.Dir(m.opts.Link), 0o755); err != nil {
			master.Close()
			return fmt.Errorf("modemsim: %w", err)
		}
		tmp := m.opts.Link + ".new"
		_ = os.Remove(tmp)
		if err := os.Symlink(slave, tmp); err != nil {
			master.Close()
			return fmt.Errorf("modemsim: link: %w", err)
		}
		if err := os.Rename(tmp, m.opts.Link); err != nil {
			master.Close()
			return fmt.Errorf("modemsim: link: %w", err)
		}
	}
	m.mu.Lock()
	if m.closed {
		// Closed while a re-enumeration was plugging the port back.
		m.mu.Unlock()
		master.Close()
		return ErrClosed
	}
	m.master, m.slave = master, slave
	m.pluggedAt = time.Now()
	m.powerOnLocked()
	m.mu.Unlock()
	m.wg.Add(1)
	go m.serve(master)
	return nil
}

// powerOnLocked resets what a power cycle resets.
func (m *Modem) powerOnLocked() {
	m.echo, m.cmee, m.cmgf = true, 0, 0
	m.cnmi = [5]int{0, 0, 0, 0, 0}
	m.cpms = [3]string{"SM", "SM", "SM"}
	m.clip = !m.opts.Profile.CLIPNeedsEnable
	m.creg = 0
	m.pinOK = m.opts.PIN == ""
	m.prompt, m.pending = false, nil
	m.cusdN, m.ussdOpen, m.after = 0, false, nil
}

// serve reads what the client writes, until the pty is closed.
func (m *Modem) serve(master *os.File) {
	defer m.wg.Done()
	buf := make([]byte, 4096)
	var line []byte
	for {
		n, err := master.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			// EIO: no client has the slave open. Wait for one.
			select {
			case <-m.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			m.mu.Lock()
			current := m.master == master
			m.mu.Unlock()
			if !current {
				return
			}
			continue
		}
		for _, b := range buf[:n] {
			m.mu.Lock()
			prompt := m.prompt
			m.mu.Unlock()
			if prompt {
				switch b {
				case 0x1A:
					m.finishPDU(master, false)
				case 0x1B:
					m.finishPDU(master, true)
				default:
					m.mu.Lock()
					m.pending = append(m.pending, b)
					m.mu.Unlock()
				}
				continue
			}
			switch b {
			case '\r':
				if len(line) > 0 {
					m.handleLine(master, string(line))
				}
				line = line[:0]
			case '\n':
			default:
				if len(line) < 4096 {
					line = append(line, b)
				}
			}
		}
	}
}

// handleLine answers one command line: echo at once, the answer after the
// reply delay.
func (m *Modem) handleLine(master *os.File, raw string) {
	line := strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 {
			return -1
		}
		return r
	}, raw))
	m.mu.Lock()
	if m.opts.Now().Before(m.hangUntil) {
		m.mu.Unlock()
		return // a hung modem answers nothing
	}
	if m.echo {
		m.writeLocked(master, raw+"\r")
	}
	m.after = nil
	resp := m.executeLocked(line)
	delay := m.replyDelay
	m.mu.Unlock()
	if resp == "" {
		return
	}
	if delay > 0 {
		if !clock.Sleep(m.opts.Clock, delay, m.stop) {
			return
		}
	}
	m.mu.Lock()
	m.writeLocked(master, resp)
	if m.master == master {
		m.writeAfterLocked()
	}
	m.after = nil
	reset := m.resetPending && m.master == master
	m.resetPending = false
	m.mu.Unlock()
	if reset {
		m.wg.Add(1)
		go m.reenumerate()
	}
}

// writeLocked writes to the client, giving up after a second if nobody
// reads (a real modem's output is lost then too).
func (m *Modem) writeLocked(master *os.File, s string) {
	if master == nil || master != m.master {
		return
	}
	_ = master.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := master.Write([]byte(s)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, syscall.EIO) {
		m.log.Debug("write to pty", "err", err)
	}
}

// urcLocked writes an unsolicited line.
func (m *Modem) urcLocked(lines ...string) {
	if m.master == nil {
		return
	}
	now := time.Now()
	for _, l := range lines {
		m.writeLocked(m.master, "\r\n"+l+"\r\n")
	}
	if m.opts.OnURC != nil {
		for _, l := range lines {
			m.opts.OnURC(l, now)
		}
	}
}

// Commands returns every AT command received, in order, without the "AT"
// prefix and with the command name in upper case (e.g. "+CMGD=3", "H").
func (m *Modem) Commands() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.commands...)
}
