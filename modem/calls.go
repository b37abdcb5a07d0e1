package modem

import (
	"context"
	"time"
)

// clipWait is how long after the first RING the caller id may still come.
const clipWait = time.Second

// afterEnd is how long after a call ended a RING or +CLIP still belongs to
// it: one already on the line when the call was hung up (by us with ATH, or
// by the caller) must not start a second, phantom call.
const afterEnd = time.Second

// callTracker follows one incoming call from its first RING or +CLIP to its
// end (NO CARRIER, +CLCC listing no call, or RingGap without a RING), and
// reports its start and end in order. Modems send RING and +CLIP in either
// order; one goroutine sees both, so they cannot be reordered.
type callTracker struct {
	p         *Phone
	active    bool
	started   bool
	firstRing time.Time
	lastRing  time.Time
	lastCLCC  time.Time
	endedAt   time.Time // when the last call ended
}

func newCallTracker(p *Phone) *callTracker { return &callTracker{p: p} }

// ring notes a RING.
func (c *callTracker) ring(ctx context.Context, eng *engine) {
	now := c.p.now()
	if c.late(now) {
		return
	}
	if !c.active {
		c.active, c.started, c.firstRing = true, false, now
	}
	c.lastRing = now
}

// clip notes the caller id and starts the call.
func (c *callTracker) clip(ctx context.Context, eng *engine, number string) {
	now := c.p.now()
	if c.late(now) {
		return
	}
	if !c.active {
		c.active, c.started, c.firstRing = true, false, now
	}
	c.lastRing = now
	if !c.started {
		c.start(ctx, eng, number)
	}
}

// start reports the call, and hangs up at once when calls are rejected.
func (c *callTracker) start(ctx context.Context, eng *engine, number string) {
	c.started = true
	c.p.h.HandleCall(ctx, CallEvent{Phone: c.p.cfg.ID, Number: number, At: c.firstRing})
	if !c.p.cfg.RejectCalls {
		return
	}
	if _, err := c.p.cmd(ctx, eng, "H"); err != nil {
		if _, err := c.p.cmd(ctx, eng, "+CHUP"); err != nil {
			c.p.log.Warn("could not reject the call", "phone", c.p.cfg.ID, "err", err)
			return
		}
	}
	c.end(ctx, true)
}

// clccEvery is how often a ringing call is checked with +CLCC (a call
// answered elsewhere ends without NO CARRIER on some modems).
const clccEvery = time.Second

// due is when the tracker next has something to do: start a call whose
// caller id never came, end one that stopped ringing, or ask +CLCC whether
// the call is still there. false when no call is in progress: an idle
// phone arms no timer for calls.
func (c *callTracker) due() (time.Time, bool) {
	if !c.active {
		return time.Time{}, false
	}
	if !c.started {
		return c.firstRing.Add(clipWait), true
	}
	at := c.lastRing.Add(c.p.cfg.RingGap)
	if next := c.lastCLCC.Add(clccEvery); next.Before(at) {
		at = next
	}
	return at, true
}

// tick starts a call whose caller id never came, and ends one that stopped
// ringing or that the modem no longer lists. It acts on what is due (see
// due) and does nothing otherwise.
func (c *callTracker) tick(ctx context.Context, eng *engine) {
	if !c.active {
		return
	}
	now := c.p.now()
	if !c.started {
		if !now.Before(c.firstRing.Add(clipWait)) {
			c.start(ctx, eng, "")
		}
		return
	}
	if !now.Before(c.lastRing.Add(c.p.cfg.RingGap)) {
		c.end(ctx, false)
		return
	}
	if !now.Before(c.lastCLCC.Add(clccEvery)) {
		c.lastCLCC = now
		lines, err := c.p.cmd(ctx, eng, "+CLCC")
		if err != nil {
			return
		}
		for _, l := range lines {
			if hasPrefix(l, "+CLCC:") {
				return
			}
		}
		c.end(ctx, false) // answered elsewhere, or gone without NO CARRIER
	}
}

// hungUp is NO CARRIER.
func (c *callTracker) hungUp(ctx context.Context) {
	if c.active {
		c.end(ctx, false)
	}
}

// endAll ends a call in progress when the phone goes down.
func (c *callTracker) endAll(ctx context.Context) {
	if c.active && c.started {
		c.end(context.WithoutCancel(ctx), false)
	}
	c.active = false
}

// end reports the end of the call.
func (c *callTracker) end(ctx context.Context, rejected bool) {
	if c.started {
		c.p.h.HandleCall(ctx, CallEvent{Phone: c.p.cfg.ID, Ended: true, At: c.p.now(), Rejected: rejected})
	}
	*c = callTracker{p: c.p, endedAt: c.p.now()}
}

// late reports whether a RING or +CLIP at now is a leftover of the call
// that just ended.
func (c *callTracker) late(now time.Time) bool {
	return !c.active && !c.endedAt.IsZero() && now.Sub(c.endedAt) < afterEnd
}
