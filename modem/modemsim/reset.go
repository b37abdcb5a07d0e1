package modemsim

import (
	"strings"
	"time"
)

// isReset reports whether the arguments of +CFUN ask for a full
// functionality reset ("=1,1"), which makes a USB modem re-enumerate.
func isReset(rest string) bool {
	return strings.ReplaceAll(rest, " ", "") == "=1,1"
}

// reenumerate does what a USB modem does after AT+CFUN=1,1: the port
// vanishes a moment after the OK, and a new one (a new tty, the same by-id
// link) appears ReenumerateDelay later with the modem powered up afresh.
// It runs in its own goroutine, counted in m.wg, and gives up on Close.
func (m *Modem) reenumerate() {
	defer m.wg.Done()
	select {
	case <-m.stop:
		return
	case <-time.After(50 * time.Millisecond): // the OK reaches the client
	}
	m.mu.Lock()
	m.resets++
	m.mu.Unlock()
	if err := m.Unplug(); err != nil {
		m.log.Debug("re-enumeration: unplug", "err", err)
	}
	select {
	case <-m.stop:
		return
	case <-time.After(m.opts.ReenumerateDelay):
	}
	if err := m.Replug(); err != nil {
		m.log.Debug("re-enumeration: replug", "err", err)
	}
}

// Resets counts the AT+CFUN=1,1 re-enumerations so far.
func (m *Modem) Resets() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.resets
}

// PluggedAt is when the port last appeared (New, Replug or the end of a
// re-enumeration).
func (m *Modem) PluggedAt() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pluggedAt
}
