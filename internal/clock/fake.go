package clock

import (
	"slices"
	"sync"
	"time"
)

// Fake is a Clock whose time moves only when Advance or Set is called. Its
// timers fire, in order of their deadlines, as the time reaches them.
// Waiters lets a test wait until the code under test has armed its timers,
// so the test advances time only when the code is ready for it.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	timers  map[*fakeTimer]struct{}
	changed chan struct{} // closed and replaced when the set of timers changes
}

type fakeTimer struct {
	clk *Fake
	at  time.Time
	c   chan time.Time
}

// NewFake returns a Fake set to start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, timers: make(map[*fakeTimer]struct{}), changed: make(chan struct{})}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer that fires once the fake time reaches now+d. A
// timer of zero or less has fired already.
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{clk: f, at: f.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- f.now
		return t
	}
	f.timers[t] = struct{}{}
	f.notifyLocked()
	return t
}

// notifyLocked wakes the waiters; f.mu is held.
func (f *Fake) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// Advance moves the time on by d and fires the timers that became due.
func (f *Fake) Advance(d time.Duration) { f.Set(f.Now().Add(d)) }

// AdvanceTo moves the time on to t, if t is later, and fires the timers
// that became due. Unlike Set it never moves the time back, so two
// goroutines may move one Fake forward.
func (f *Fake) AdvanceTo(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.After(f.now) {
		f.setLocked(t)
	}
}

// Set moves the time to t (backwards too, as a clock set back by NTP does)
// and fires the timers that became due.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setLocked(t)
}

func (f *Fake) setLocked(t time.Time) {
	f.now = t
	for tm := range f.timers {
		if !tm.at.After(f.now) {
			tm.c <- f.now
			delete(f.timers, tm)
		}
	}
	f.notifyLocked()
}

// Pending is the number of timers armed and not yet fired or stopped.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// Next is the deadline of the earliest armed timer, and false when none is.
func (f *Fake) Next() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var next time.Time
	for t := range f.timers {
		if next.IsZero() || t.at.Before(next) {
			next = t.at
		}
	}
	return next, !next.IsZero()
}

// Deadlines are the deadlines of the armed timers, earliest first.
func (f *Fake) Deadlines() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deadlinesLocked()
}

func (f *Fake) deadlinesLocked() []time.Time {
	out := make([]time.Time, 0, len(f.timers))
	for t := range f.timers {
		out = append(out, t.at)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// WaitTimers blocks until at least n timers are armed or done is closed; it
// reports whether they are.
func (f *Fake) WaitTimers(n int, done <-chan struct{}) bool {
	return f.WaitUntil(func(_ time.Time, deadlines []time.Time) bool { return len(deadlines) >= n }, done)
}

// WaitUntil blocks until cond holds or done is closed; it reports whether
// cond held. cond gets the time and the deadlines of the armed timers,
// earliest first; it is checked at once and again whenever a timer is
// armed, stopped or fires, or the time is set. It must not call f.
func (f *Fake) WaitUntil(cond func(now time.Time, deadlines []time.Time) bool, done <-chan struct{}) bool {
	for {
		f.mu.Lock()
		if cond(f.now, f.deadlinesLocked()) {
			f.mu.Unlock()
			return true
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-done:
			return false
		}
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

// Stop reports whether the timer was stopped before it fired.
func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	_, pending := t.clk.timers[t]
	if pending {
		delete(t.clk.timers, t)
		t.clk.notifyLocked()
	}
	return pending
}
