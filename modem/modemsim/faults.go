package modemsim

import (
	"os"
	"time"
)

// Unplug makes the port disappear: the pty closes (client reads and writes
// fail), the link is removed. The SIM's storage is kept.
func (m *Modem) Unplug() error {
	m.mu.Lock()
	master := m.master
	m.master = nil
	for _, c := range m.calls {
		c.endLocked(false)
	}
	m.mu.Unlock()
	if m.opts.Link != "" {
		_ = os.Remove(m.opts.Link)
	}
	if master != nil {
		return master.Close()
	}
	return nil
}

// Replug plugs the modem back: a new pty, the link pointed at it, the
// banner, and settings reset as by a power cycle (storage and the message
// reference counter survive).
func (m *Modem) Replug() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	m.mu.Unlock()
	if err := m.plug(); err != nil {
		return err
	}
	m.mu.Lock()
	m.urcLocked(m.opts.Profile.Banner...)
	m.mu.Unlock()
	return nil
}

// Hang makes the modem answer nothing for d; commands meanwhile are lost.
func (m *Modem) Hang(d time.Duration) {
	m.mu.Lock()
	m.hangUntil = m.opts.Now().Add(d)
	m.mu.Unlock()
}

// Garbage writes raw bytes to the line now.
func (m *Modem) Garbage(b []byte) {
	m.mu.Lock()
	m.writeLocked(m.master, string(b))
	m.mu.Unlock()
}

// JunkLine writes a line nobody asked for.
func (m *Modem) JunkLine(s string) {
	m.mu.Lock()
	m.writeLocked(m.master, "\r\n"+s+"\r\n")
	m.mu.Unlock()
}

// ErrorStorm makes the next n commands answer ERROR whatever they are.
func (m *Modem) ErrorStorm(n int) {
	m.mu.Lock()
	m.errorStorm = n
	m.mu.Unlock()
}

// SetReplyDelay changes the delay before each answer.
func (m *Modem) SetReplyDelay(d time.Duration) {
	m.mu.Lock()
	m.replyDelay = d
	m.mu.Unlock()
}
