package agent

import (
	"testing"
	"time"

	"github.com/simhook/simhook/config"
)

// at returns times offset from base, oldest first.
func at(base time.Time, offsets ...time.Duration) []time.Time {
	out := make([]time.Time, len(offsets))
	for i, d := range offsets {
		out[i] = base.Add(d)
	}
	return out
}

// TestFitLimits covers when a message of n parts fits a phone's windows,
// and until when it waits otherwise.
func TestFitLimits(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	sec := time.Second
	tests := []struct {
		name   string
		lim    config.Limits
		parts  []time.Time
		n      int
		fits   bool
		window string
		until  time.Time
	}{
		{"no limits", config.Limits{DayReset: "00:00"}, at(now, -sec, -sec, -sec), 9, true, "", time.Time{}},
		{"room left in the minute", config.Limits{Minute: 6, DayReset: "00:00"}, at(now, -50*sec, -40*sec, -30*sec), 3, true, "", time.Time{}},
		// Two 3-part messages filled the minute: a third waits until the
		// first one's parts are a minute old.
		{"the third 3-part message waits", config.Limits{Minute: 6, DayReset: "00:00"},
			at(now, -50*sec, -50*sec, -50*sec, -20*sec, -20*sec, -20*sec), 3, false, windowMinute, now.Add(10 * sec)},
		{"one part must leave", config.Limits{Minute: 6, DayReset: "00:00"},
			at(now, -50*sec, -40*sec, -30*sec, -20*sec, -10*sec, -5*sec), 1, false, windowMinute, now.Add(10 * sec)},
		{"a part a minute old no longer counts", config.Limits{Minute: 1, DayReset: "00:00"}, at(now, -60*sec), 1, true, "", time.Time{}},
		{"the hour binds later than the minute", config.Limits{Minute: 2, Hour: 3, DayReset: "00:00"},
			at(now, -30*time.Minute, -20*sec, -10*sec), 1, false, windowHour, now.Add(30 * time.Minute)},
		{"the day waits for the reset", config.Limits{Day: 10, DayReset: "00:00"},
			at(now, -11*time.Hour, -time.Hour, -sec, -sec, -sec, -sec, -sec, -sec, -sec, -sec), 1, false, windowDay,
			time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)},
		{"yesterday's parts do not count today", config.Limits{Day: 2, DayReset: "00:00"},
			at(now, -13*time.Hour, -12*time.Hour-sec), 2, true, "", time.Time{}},
		{"a message larger than the limit never fits", config.Limits{Minute: 6, DayReset: "00:00"}, nil, 9, false, windowMinute, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, ok := fitLimits(tt.lim, tt.parts, tt.n, now, time.UTC)
			if ok != tt.fits {
				t.Fatalf("fits = %v (%+v), want %v", ok, w, tt.fits)
			}
			if ok {
				return
			}
			if w.Window != tt.window || !w.Until.Equal(tt.until) {
				t.Errorf("waits for the %s window until %v, want %s until %v", w.Window, w.Until, tt.window, tt.until)
			}
		})
	}
}

// TestDayWindow covers the day window's start and reset in the configured
// zone, across a daylight-saving change.
func TestDayWindow(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	tests := []struct {
		name        string
		reset       string
		now         time.Time
		start, next time.Time
	}{
		{"after the reset", "06:30", time.Date(2026, 12, 1, 9, 0, 0, 0, paris),
			time.Date(2026, 12, 1, 6, 30, 0, 0, paris), time.Date(2026, 12, 2, 6, 30, 0, 0, paris)},
		{"before the reset: yesterday's window", "06:30", time.Date(2026, 12, 1, 5, 0, 0, 0, paris),
			time.Date(2026, 11, 30, 6, 30, 0, 0, paris), time.Date(2026, 12, 1, 6, 30, 0, 0, paris)},
		{"at the reset", "00:00", time.Date(2026, 12, 1, 0, 0, 0, 0, paris),
			time.Date(2026, 12, 1, 0, 0, 0, 0, paris), time.Date(2026, 12, 2, 0, 0, 0, 0, paris)},
		// 29 March 2026: clocks go from 02:00 to 03:00; that day is 23 hours.
		{"across the spring change", "00:00", time.Date(2026, 3, 29, 12, 0, 0, 0, paris),
			time.Date(2026, 3, 29, 0, 0, 0, 0, paris), time.Date(2026, 3, 30, 0, 0, 0, 0, paris)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, next := dayWindow(config.Limits{DayReset: tt.reset}, tt.now.UTC(), paris)
			if !start.Equal(tt.start) || !next.Equal(tt.next) {
				t.Errorf("window %v – %v, want %v – %v", start, next, tt.start, tt.next)
			}
		})
	}
}

// TestLedgerKeepsOrderAndForgets checks that parts are kept in time order
// whatever order they come in, and that parts too old to count go.
func TestLedgerKeepsOrderAndForgets(t *testing.T) {
	base := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l := newLedger(map[int][]time.Time{1: at(base, -72*time.Hour, -time.Hour)})
	l.add(1, base.Add(-30*time.Minute))
	l.add(1, base.Add(-45*time.Minute)) // late: a clock step
	l.add(2, base)
	got := l.of(1)
	want := at(base, -time.Hour, -45*time.Minute, -30*time.Minute)
	if len(got) != len(want) {
		t.Fatalf("phone 1 holds %v, want %v", got, want)
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("part %d at %v, want %v", i, got[i], want[i])
		}
	}
	if n := len(l.of(2)); n != 1 {
		t.Errorf("phone 2 holds %d parts, want 1", n)
	}
}
