package modem

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simhook/simhook/internal/clock"
	"github.com/simhook/simhook/modem/modemsim"
)

// fakeStart is where the fake clocks of the tests start: a whole second,
// so that a PDU's timestamp (to the second) is the fake time itself.
var fakeStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// passQuietWaits moves clk through the engine's quiet waits (resyncQuiet
// and shorter) as they are armed, until the test ends, so that a phone on
// a fake clock initialises without the test stepping through it. Every
// longer wait (a command's deadline, a probe, a sweep, a ring gap, a
// reassembly timeout, a backoff) moves only when the test moves it.
//
// A quiet wait ends only once the clock's timers have stayed as they are
// for quietSettle: lines on their way to the engine come in first, as they
// would within a real quiet wait. A line that comes later than that would
// be taken for the next command's answer; promptClock is for the wait that
// expects one.
func passQuietWaits(t *testing.T, clk *clock.Fake) {
	t.Helper()
	passQuietWaitsOnce(t, clk, func() bool { return true })
}

// passQuietWaitsOnce is passQuietWaits whose first quiet wait ends only
// once ready holds (ready must not call clk).
func passQuietWaitsOnce(t *testing.T, clk *clock.Fake, ready func() bool) {
	t.Helper()
	done := make(chan struct{})
	stopped := make(chan struct{})
	t.Cleanup(func() { close(done); <-stopped })
	go func() {
		defer close(stopped)
		first := true
		for {
			var next time.Time
			short := func(now time.Time, deadlines []time.Time) bool {
				for _, at := range deadlines {
					if at.Sub(now) <= resyncQuiet {
						next = at
						return true
					}
				}
				return false
			}
			due := func(now time.Time, deadlines []time.Time) bool {
				return short(now, deadlines) && (!first || ready())
			}
			if !clk.WaitUntil(due, done) || !settle(clk, quietSettle, done) {
				return
			}
			// The wait may have ended meanwhile: move only to one still
			// armed.
			if short(clk.Now(), clk.Deadlines()) {
				first = false
				clk.AdvanceTo(next)
			}
		}
	}()
}

// quietSettle is how long the timers of a fake clock must stay unchanged
// before passQuietWaits ends a quiet wait.
const quietSettle = 20 * time.Millisecond

// settle waits until no timer of clk has been armed, stopped or fired for d
// (real time), or done is closed; it reports whether the timers settled.
func settle(clk *clock.Fake, d time.Duration, done <-chan struct{}) bool {
	for {
		select {
		case <-done:
			return false
		default:
		}
		calls := 0
		changed := func(time.Time, []time.Time) bool { calls++; return calls > 1 }
		elapsed := make(chan struct{})
		timer := time.AfterFunc(d, func() { close(elapsed) })
		moved := clk.WaitUntil(changed, elapsed)
		timer.Stop()
		if !moved {
			return true
		}
	}
}

// waitDeadlines waits until the armed timers of clk are exactly want.
func waitDeadlines(t *testing.T, clk *clock.Fake, what string, want ...time.Time) {
	t.Helper()
	same := func(_ time.Time, got []time.Time) bool { return sameTimes(got, want) }
	if !waitClock(clk, same) {
		t.Fatalf("%s: timers armed for %v, want %v", what, relative(clk, clk.Deadlines()), relative(clk, want))
	}
}

// waitClock waits for cond on clk, for a generous while (a test that
// fails must not hang).
func waitClock(clk *clock.Fake, cond func(now time.Time, deadlines []time.Time) bool) bool {
	giveUp := make(chan struct{})
	t := time.AfterFunc(20*time.Second, func() { close(giveUp) })
	defer t.Stop()
	return clk.WaitUntil(cond, giveUp)
}

// relative shows deadlines as durations from the fake time.
func relative(clk *clock.Fake, at []time.Time) []time.Duration {
	now := clk.Now()
	out := make([]time.Duration, len(at))
	for i, a := range at {
		out[i] = a.Sub(now)
	}
	return out
}

// countCommands counts the commands the modem got that start with prefix.
func countCommands(m *modemsim.Modem, prefix string) int {
	n := 0
	for _, c := range m.Commands() {
		if strings.HasPrefix(strings.ToUpper(c), prefix) {
			n++
		}
	}
	return n
}

// fakePhone runs a phone on the simulator with a fake clock whose quiet
// waits pass by themselves, and waits until it is up and idle: its first
// sweep done, only its probe and sweep timers armed.
func fakePhone(t *testing.T, opts modemsim.Options, tune func(*Config)) (*clock.Fake, *modemsim.Modem, *recorder, *Phone) {
	t.Helper()
	return stockedFakePhone(t, opts, tune, nil)
}

// stockedFakePhone is fakePhone for a phone with work pending once up:
// stock puts messages on the SIM before the phone connects, so that its
// first sweep finds them all at once, and due are the deadlines armed
// besides the probe and the sweep once the phone is idle. A message
// injected while the phone runs is read on its own schedule, and the timers
// after the first read can equal those after the last: a test that moved
// the clock on the first would fire the deadline of the next read.
func stockedFakePhone(t *testing.T, opts modemsim.Options, tune func(*Config), stock func(*modemsim.Modem), due ...time.Time) (*clock.Fake, *modemsim.Modem, *recorder, *Phone) {
	t.Helper()
	clk := clock.NewFake(fakeStart)
	opts.Now = clk.Now
	m := modemsim.Start(t, opts)
	if stock != nil {
		stock(m)
	}
	rec := &recorder{}
	var probe, sweep time.Duration
	p := runPhone(t, m, rec, func(c *Config) {
		c.Clock = clk
		c.ProbeInterval, c.SweepInterval = 30*time.Second, 10*time.Minute
		if tune != nil {
			tune(c)
		}
		probe, sweep = c.ProbeInterval, c.SweepInterval
	})
	passQuietWaits(t, clk)
	idle := func(now time.Time, deadlines []time.Time) bool {
		want := append([]time.Time{now.Add(probe), now.Add(sweep)}, due...)
		return rec.up() && sameTimes(deadlines, sortedTimes(want...))
	}
	if !waitClock(clk, idle) {
		t.Fatalf("phone not up and idle: state %+v, timers %v, want %v and %v after the probe and the sweep",
			p.State(), relative(clk, clk.Deadlines()), relative(clk, due), []time.Duration{probe, sweep})
	}
	return clk, m, rec, p
}

// sortedTimes returns the times earliest first.
func sortedTimes(at ...time.Time) []time.Time {
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	return at
}

// TestIdlePhoneArmsOnlyProbeAndSweep: once up and idle, a phone has
// exactly two timers armed, its health probe and its safety sweep, and
// after each of them fires it has those two again and nothing else (no
// tick, no poll).
func TestIdlePhoneArmsOnlyProbeAndSweep(t *testing.T) {
	clk, m, _, _ := fakePhone(t, modemsim.Options{}, nil)
	up := clk.Now()
	probeAt, sweepAt := up.Add(30*time.Second), up.Add(10*time.Minute)
	waitDeadlines(t, clk, "idle", probeAt, sweepAt)
	probes, sweeps := countCommands(m, "+CSQ"), countCommands(m, "+CMGL")

	clk.AdvanceTo(probeAt.Add(-time.Millisecond))
	if got := clk.Deadlines(); len(got) != 2 || !got[0].Equal(probeAt) {
		t.Fatalf("just before the probe, timers at %v", relative(clk, got))
	}
	// Probe after probe up to the sweep, which comes with the 20th.
	for at := probeAt; at.Before(sweepAt); at = at.Add(30 * time.Second) {
		clk.AdvanceTo(at)
		waitDeadlines(t, clk, "after a probe", at.Add(30*time.Second), sweepAt)
	}
	clk.AdvanceTo(sweepAt)
	waitDeadlines(t, clk, "after the sweep", sweepAt.Add(30*time.Second), sweepAt.Add(10*time.Minute))
	if got := countCommands(m, "+CSQ"); got != probes+20 {
		t.Errorf("%d probes in 10 minutes, want 20", got-probes)
	}
	if got := countCommands(m, "+CMGL"); got != sweeps+1 {
		t.Errorf("%d sweeps in 10 minutes, want 1", got-sweeps)
	}
}

// TestCallEndsAtTheRingGap: a call that stops ringing (one RING and +CLIP,
// then silence) ends when the fake clock reaches RingGap after the ring,
// not before; meanwhile +CLCC checks it once a second.
func TestCallEndsAtTheRingGap(t *testing.T) {
	const gap = 4 * time.Second
	clk, m, rec, _ := fakePhone(t, modemsim.Options{RingInterval: time.Hour}, func(c *Config) {
		c.RingGap = gap
		c.CommandTimeout = time.Minute
	})
	rang := clk.Now()
	m.InjectCall("+33698765432")
	calls := func() []CallEvent {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return append([]CallEvent(nil), rec.calls...)
	}
	eventually(t, 10*time.Second, "call start", func() bool { return len(calls()) == 1 })
	for i := 1; i <= int(gap/clccEvery); i++ {
		// The next thing due for the call: a +CLCC check or the ring gap
		// (the probe and sweep are further away).
		var next time.Time
		due := func(now time.Time, deadlines []time.Time) bool {
			for _, at := range deadlines {
				if at.After(now) && !at.After(rang.Add(gap)) {
					next = at
					return true
				}
			}
			return false
		}
		if !waitClock(clk, due) {
			t.Fatalf("step %d: nothing armed for the call: %v", i, relative(clk, clk.Deadlines()))
		}
		if want := rang.Add(time.Duration(i) * clccEvery); !next.Equal(want) {
			t.Errorf("step %d: call timer at %v, want %v", i, next.Sub(rang), want.Sub(rang))
		}
		if len(calls()) != 1 {
			t.Fatalf("step %d: the call ended before the ring gap: %+v", i, calls())
		}
		clk.AdvanceTo(next)
	}
	eventually(t, 10*time.Second, "call end", func() bool { return len(calls()) == 2 })
	got := calls()
	if got[0].Ended || got[0].Number != "+33698765432" || !got[0].At.Equal(rang) {
		t.Errorf("start %+v, want +33698765432 at the ring", got[0])
	}
	if !got[1].Ended || !got[1].At.Equal(rang.Add(gap)) {
		t.Errorf("end %+v, want %v after the ring", got[1], gap)
	}
	if n := countCommands(m, "+CLCC"); n != int(gap/clccEvery) {
		t.Errorf("%d +CLCC checks during a %v ring gap, want %d", n, gap, int(gap/clccEvery))
	}
	waitDeadlines(t, clk, "after the call", rang.Add(30*time.Second), rang.Add(10*time.Minute))
}

// TestIncompleteMessageAtItsTimeout: two parts of three wait on the SIM;
// the sweep that delivers them flagged comes when the fake clock reaches
// ConcatTimeout after the first part's timestamp, not a second before.
func TestIncompleteMessageAtItsTimeout(t *testing.T) {
	const timeout = 30 * time.Minute
	sent := fakeStart // a whole second: the timestamp's precision
	parts := deliverParts(t, "+33611111111", strings.Repeat("three parts, one never comes. ", 12), 31, sent)
	if len(parts) != 3 {
		t.Fatalf("%d parts, want 3", len(parts))
	}
	stock := func(m *modemsim.Modem) {
		for _, part := range [][]byte{parts[0], parts[2]} {
			if _, err := m.InjectPDU(part); err != nil {
				t.Fatal(err)
			}
		}
	}
	expiry := sent.Add(timeout)
	clk, m, rec, _ := stockedFakePhone(t, modemsim.Options{}, func(c *Config) {
		c.ConcatTimeout = timeout
		c.SweepInterval = 24 * time.Hour
		c.ProbeInterval = 24 * time.Hour
	}, stock, expiry)
	up := clk.Now()
	probeAt, sweepAt := up.Add(24*time.Hour), up.Add(24*time.Hour)
	sweeps := countCommands(m, "+CMGL")
	clk.AdvanceTo(expiry.Add(-time.Second))
	if got := clk.Deadlines(); len(got) != 3 || !got[0].Equal(expiry) {
		t.Fatalf("a second before the timeout, timers at %v", relative(clk, got))
	}
	if rec.count() != 0 || countCommands(m, "+CMGL") != sweeps {
		t.Fatalf("swept or delivered before the timeout: %d messages", rec.count())
	}
	clk.AdvanceTo(expiry)
	eventually(t, 10*time.Second, "the incomplete message", func() bool { return rec.count() == 1 })
	eventually(t, 10*time.Second, "an empty SIM", func() bool { return len(m.Stored("SM")) == 0 })
	rec.mu.Lock()
	got := rec.msgs[0]
	rec.mu.Unlock()
	if !got.Incomplete || got.Parts != 3 || len(got.PDUs) != 2 || got.Originator != "+33611111111" {
		t.Errorf("incomplete %v parts %d pdus %d from %q", got.Incomplete, got.Parts, len(got.PDUs), got.Originator)
	}
	if n := countCommands(m, "+CMGL"); n != sweeps+1 {
		t.Errorf("%d sweeps at the timeout, want 1", n-sweeps)
	}
	waitDeadlines(t, clk, "nothing left to wait for", probeAt, sweepAt)
}

// drive moves clk to its earliest deadline each time the phone has gone
// still (the same timers armed and no command to the modem for a few
// milliseconds), until cond holds: the phone then runs as if time passed
// only while it waited. It fails the test if cond does not hold within a
// generous while.
func drive(t *testing.T, clk *clock.Fake, m *modemsim.Modem, what string, cond func() bool) {
	t.Helper()
	const still = 20 * time.Millisecond
	giveUp := time.Now().Add(30 * time.Second)
	var last []time.Time
	lastCommands := -1
	since := time.Now()
	for !cond() {
		if time.Now().After(giveUp) {
			t.Fatalf("timed out waiting for %s (fake time %v, timers %v)", what, clk.Now().Sub(fakeStart), relative(clk, clk.Deadlines()))
		}
		deadlines, commands := clk.Deadlines(), len(m.Commands())
		switch {
		case !sameTimes(deadlines, last) || commands != lastCommands:
			last, lastCommands, since = deadlines, commands, time.Now()
		case len(deadlines) > 0 && time.Since(since) >= still:
			clk.AdvanceTo(deadlines[0])
			since = time.Now()
		}
		time.Sleep(time.Millisecond)
	}
}

func sameTimes(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// quietly puts a phone on a fake clock that moves only through the
// engine's quiet waits and short backoffs (passQuietWaits), its probe and
// sweep an hour away: for a test to which the phone's time does not matter,
// which then does not sit out a quiet wait at each connection.
func quietly(t *testing.T, c *Config) {
	t.Helper()
	c.Clock = quietClock(t)
	c.ProbeInterval, c.SweepInterval = time.Hour, time.Hour
}

// quietClock is a fake clock that moves only through quiet waits and short
// backoffs (passQuietWaits).
func quietClock(t *testing.T) *clock.Fake {
	t.Helper()
	clk := clock.NewFake(fakeStart)
	passQuietWaits(t, clk)
	return clk
}

// promptClock is quietClock for a phone that connects to a modem left in a
// +CMGS prompt: the first quiet wait, after the ESC that cancels the
// prompt, ends only once the engine got the cancellation's OK (and armed
// the wait again, its second timer). The OK may come well after the ESC:
// the simulator looks for a client only every 20 ms while nobody holds its
// port. Give the phone the returned clock; the Fake in it is the one that
// moves.
func promptClock(t *testing.T) *countingClock {
	t.Helper()
	c := &countingClock{Fake: clock.NewFake(fakeStart)}
	passQuietWaitsOnce(t, c.Fake, func() bool { return c.armed.Load() >= 2 })
	return c
}

// countingClock is a Fake that counts the timers armed on it.
type countingClock struct {
	*clock.Fake
	armed atomic.Int64
}

// NewTimer counts the timer before the Fake arms it, so that a waiter
// woken by the arming sees the count.
func (c *countingClock) NewTimer(d time.Duration) clock.Timer {
	c.armed.Add(1)
	return c.Fake.NewTimer(d)
}
