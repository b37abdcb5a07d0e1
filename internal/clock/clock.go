// Package clock is the source of time of simhook's loops. Production code
// takes a Clock and uses Real; tests inject a Fake, which moves only when told
// to, so timeouts, backoffs and retention are tested without sleeping.
package clock

import "time"

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a Clock.
type Timer interface {
	// C delivers the time once the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing. It reports whether the timer
	// was stopped before it fired.
	Stop() bool
}

// Real is the system clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// Or returns c, or Real when c is nil.
func Or(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}

// Since is the time elapsed on c since t.
func Since(c Clock, t time.Time) time.Duration { return c.Now().Sub(t) }

// Sleep waits d on c, or until done is closed; it reports whether the full
// time passed.
func Sleep(c Clock, d time.Duration, done <-chan struct{}) bool {
	if d <= 0 {
		return true
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-done:
		return false
	}
}

// Earliest is the earlier of two times, ignoring zero ones: the zero time
// means "never".
func Earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// WaitUntil waits on c until next (never when next is zero), a value on
// kick, or done is closed, whichever comes first. The timer it arms, if any,
// is stopped before it returns, so a loop that calls it arms nothing while
// it has nothing due.
func WaitUntil(c Clock, next time.Time, kick <-chan struct{}, done <-chan struct{}) {
	var fire <-chan time.Time
	if !next.IsZero() {
		t := c.NewTimer(next.Sub(c.Now()))
		defer t.Stop()
		fire = t.C()
	}
	select {
	case <-fire:
	case <-kick:
	case <-done:
	}
}
