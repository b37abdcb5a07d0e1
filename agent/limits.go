package agent

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/store"
)

// Limit windows, as configured under a phone's limits and named in waits
// and metrics.
const (
	windowMinute = "minute"
	windowHour   = "hour"
	windowDay    = "day"
)

// windowUse is how full one of a phone's limit windows is at a moment.
type windowUse struct {
	// Window is minute, hour or day.
	Window string
	// Max is the configured limit (0: none).
	Max int
	// Used is the parts the phone handed to its modem in the window.
	Used int
	// Next is when the window next gives room back: for a sliding window
	// the moment its oldest counted part leaves it (zero when it is empty),
	// for the day the next reset.
	Next time.Time
}

// windowsAt returns the use of a phone's three windows at now, given the
// times of its parts (oldest first), and the time zone of the day reset.
func windowsAt(lim config.Limits, parts []time.Time, now time.Time, loc *time.Location) [3]windowUse {
	minute := slidingUse(windowMinute, lim.Minute, time.Minute, parts, now)
	hour := slidingUse(windowHour, lim.Hour, time.Hour, parts, now)
	start, next := dayWindow(lim, now, loc)
	day := windowUse{Window: windowDay, Max: lim.Day, Used: len(parts) - countBefore(parts, start), Next: next}
	return [3]windowUse{minute, hour, day}
}

// slidingUse counts the parts handed in the span w before now: a part
// handed at t counts until t+w.
func slidingUse(name string, max int, w time.Duration, parts []time.Time, now time.Time) windowUse {
	first := countBefore(parts, now.Add(-w).Add(time.Nanosecond))
	u := windowUse{Window: name, Max: max, Used: len(parts) - first}
	if u.Used > 0 {
		u.Next = parts[first].Add(w)
	}
	return u
}

// countBefore returns how many of the sorted times are before t.
func countBefore(times []time.Time, t time.Time) int {
	return sort.Search(len(times), func(i int) bool { return !times[i].Before(t) })
}

// dayWindow returns the start of the day window holding now and the next
// reset, at the configured time of day in loc.
func dayWindow(lim config.Limits, now time.Time, loc *time.Location) (start, next time.Time) {
	h, m := lim.ResetClock()
	local := now.In(loc)
	start = time.Date(local.Year(), local.Month(), local.Day(), h, m, 0, 0, loc)
	if start.After(now) {
		start = time.Date(local.Year(), local.Month(), local.Day()-1, h, m, 0, 0, loc)
	}
	next = time.Date(start.Year(), start.Month(), start.Day()+1, h, m, 0, 0, loc)
	return start, next
}

// limitWait says why a message cannot go through a phone now.
type limitWait struct {
	// Window is the limit that binds: minute, hour or day.
	Window string
	Max    int
	Used   int
	// Until is when the message fits; zero when it never can (it has
	// more parts than the limit).
	Until time.Time
}

// fitLimits reports whether a message of n parts fits a phone's limits at
// now. When it does not, it returns the binding window: the one that frees
// room last, or one the message can never fit in.
func fitLimits(lim config.Limits, parts []time.Time, n int, now time.Time, loc *time.Location) (limitWait, bool) {
	var worst limitWait
	blocked := false
	for _, u := range windowsAt(lim, parts, now, loc) {
		if u.Max == 0 || u.Used+n <= u.Max {
			continue
		}
		w := limitWait{Window: u.Window, Max: u.Max, Used: u.Used}
		switch {
		case n > u.Max:
			return w, false // never: Until stays zero
		case u.Window == windowDay:
			w.Until = u.Next
		default:
			// The oldest parts in the window must leave it until n fit.
			span := time.Minute
			if u.Window == windowHour {
				span = time.Hour
			}
			first := len(parts) - u.Used
			w.Until = parts[first+u.Used+n-u.Max-1].Add(span)
		}
		if !blocked || w.Until.After(worst.Until) {
			worst = w
		}
		blocked = true
	}
	return worst, !blocked
}

// tooLarge reports whether a message of n parts exceeds one of the limits
// by itself: it can never be sent through that phone.
func tooLarge(lim config.Limits, n int) bool {
	for _, max := range []int{lim.Minute, lim.Hour, lim.Day} {
		if max > 0 && n > max {
			return true
		}
	}
	return false
}

// String says what the wait is for, for the API and the logs.
func (w limitWait) String() string {
	if w.Until.IsZero() {
		return fmt.Sprintf("its %s limit of %d parts is smaller than the message", w.Window, w.Max)
	}
	return fmt.Sprintf("its %s limit (%d of %d parts used)", w.Window, w.Used, w.Max)
}

// ledger holds, per phone, the times of the parts it handed to its modem
// in the last store.UsageKept, oldest first: what its limits count. It is
// rebuilt from the store at start and added to at each hand-over.
type ledger struct {
	mu    sync.Mutex
	parts map[int][]time.Time
}

// newLedger returns a ledger holding parts (as store.Usage returns them).
func newLedger(parts map[int][]time.Time) *ledger {
	if parts == nil {
		parts = make(map[int][]time.Time)
	}
	return &ledger{parts: parts}
}

// add counts one part handed by phone at at, and forgets parts too old to
// count for any window.
func (l *ledger) add(phone int, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.parts[phone]
	p = p[countBefore(p, at.Add(-store.UsageKept)):]
	i := sort.Search(len(p), func(i int) bool { return p[i].After(at) })
	p = append(p, time.Time{})
	copy(p[i+1:], p[i:])
	p[i] = at
	l.parts[phone] = p
}

// of returns a copy of phone's part times.
func (l *ledger) of(phone int) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.parts[phone]...)
}
