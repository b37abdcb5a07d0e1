package modemsim

import (
	"fmt"
	"time"
)

// Call is an incoming call being simulated.
type Call struct {
	m        *Modem
	number   string
	ringing  bool
	active   bool
	ended    bool
	rejected bool
	stop     chan struct{}
}

// InjectCall starts an incoming call from number ("" = withheld): RING,
// with +CLIP when enabled, every RingInterval until the call ends.
func (m *Modem) InjectCall(number string) *Call {
	c := &Call{m: m, number: number, ringing: true, stop: make(chan struct{})}
	m.mu.Lock()
	m.calls = append(m.calls, c)
	closed := m.closed
	m.mu.Unlock()
	if closed {
		c.ended = true
		return c
	}
	m.wg.Add(1)
	go c.ring()
	return c
}

// ring announces the call until it stops ringing.
func (c *Call) ring() {
	defer c.m.wg.Done()
	m := c.m
	for {
		m.mu.Lock()
		if !c.ringing {
			m.mu.Unlock()
			return
		}
		m.urcLocked("RING")
		if m.clip {
			if c.number == "" {
				m.urcLocked(`+CLIP: "",128,,,,1`)
			} else {
				toa := 129
				if c.number[0] == '+' {
					toa = 145
				}
				m.urcLocked(fmt.Sprintf(`+CLIP: "%s",%d,,,,0`, c.number, toa))
			}
		}
		m.mu.Unlock()
		select {
		case <-c.stop:
			return
		case <-m.stop:
			return
		case <-time.After(m.opts.RingInterval):
		}
	}
}

// Hangup: the caller hangs up; ringing stops and NO CARRIER is reported.
func (c *Call) Hangup() {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if c.ended {
		return
	}
	c.endLocked(true)
}

// AnsweredElsewhere: ringing stops silently (another device took it).
func (c *Call) AnsweredElsewhere() {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if !c.ended {
		c.endLocked(false)
	}
}

// Ended reports whether the call is over.
func (c *Call) Ended() bool {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	return c.ended
}

// RejectedByClient reports whether the client hung up while it rang.
func (c *Call) RejectedByClient() bool {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	return c.rejected
}

// endLocked ends the call, with NO CARRIER if noCarrier.
func (c *Call) endLocked(noCarrier bool) {
	if c.ended {
		return
	}
	c.ended, c.ringing, c.active = true, false, false
	close(c.stop)
	if noCarrier {
		c.m.urcLocked("NO CARRIER")
	}
}

// hangUpLocked is ATH / AT+CHUP: it ends a ringing or active call.
func (m *Modem) hangUpLocked() {
	for _, c := range m.calls {
		if c.ended {
			continue
		}
		if c.ringing {
			c.rejected = true
		}
		c.endLocked(false)
	}
}

// answerLocked is ATA.
func (m *Modem) answerLocked() bool {
	for _, c := range m.calls {
		if c.ringing && !c.ended {
			c.ringing, c.active = false, true
			return true
		}
	}
	return false
}

// clccLocked lists the current calls.
func (m *Modem) clccLocked() []string {
	var lines []string
	for i, c := range m.calls {
		if c.ended {
			continue
		}
		stat := 4 // incoming
		if c.active {
			stat = 0
		}
		toa := 129
		if c.number != "" && c.number[0] == '+' {
			toa = 145
		}
		lines = append(lines, fmt.Sprintf(`+CLCC: %d,1,%d,0,0,"%s",%d`, i+1, stat, c.number, toa))
	}
	return lines
}
