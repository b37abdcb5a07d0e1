package clock

import (
	"testing"
	"time"
)

func TestFakeFiresInOrderOfDeadline(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		timers  []time.Duration
		advance time.Duration
		fired   []bool
	}{
		{"none due", []time.Duration{time.Second, time.Minute}, 500 * time.Millisecond, []bool{false, false}},
		{"first due", []time.Duration{time.Second, time.Minute}, time.Second, []bool{true, false}},
		{"both due", []time.Duration{time.Second, time.Minute}, time.Hour, []bool{true, true}},
		{"zero fires at once", []time.Duration{0}, 0, []bool{true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFake(start)
			var ts []Timer
			for _, d := range tt.timers {
				ts = append(ts, f.NewTimer(d))
			}
			f.Advance(tt.advance)
			for i, tm := range ts {
				select {
				case at := <-tm.C():
					if !tt.fired[i] {
						t.Errorf("timer %d fired at %v", i, at)
					}
				default:
					if tt.fired[i] {
						t.Errorf("timer %d did not fire", i)
					}
				}
			}
			if got := f.Now(); !got.Equal(start.Add(tt.advance)) {
				t.Errorf("Now = %v, want %v", got, start.Add(tt.advance))
			}
		})
	}
}

func TestFakeStopAndWait(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	done := make(chan struct{})
	armed := make(chan bool)
	go func() { armed <- f.WaitTimers(2, done) }()
	a := f.NewTimer(time.Second)
	f.NewTimer(2 * time.Second)
	if !<-armed {
		t.Fatal("WaitTimers returned false with two timers armed")
	}
	if !a.Stop() {
		t.Error("Stop of an armed timer reported false")
	}
	if a.Stop() {
		t.Error("a second Stop reported true")
	}
	if n := f.Pending(); n != 1 {
		t.Errorf("Pending = %d, want 1", n)
	}
	if next, ok := f.Next(); !ok || !next.Equal(time.Unix(2, 0)) {
		t.Errorf("Next = %v, %v", next, ok)
	}
	close(done)
	if f.WaitTimers(5, done) {
		t.Error("WaitTimers reported true after done with too few timers")
	}
}

func TestFakeDeadlinesAndWaitUntil(t *testing.T) {
	start := time.Unix(100, 0)
	f := NewFake(start)
	done := make(chan struct{})
	defer close(done)
	a := f.NewTimer(3 * time.Second)
	f.NewTimer(time.Second)
	f.NewTimer(2 * time.Second)
	want := []time.Time{start.Add(time.Second), start.Add(2 * time.Second), start.Add(3 * time.Second)}
	if got := f.Deadlines(); len(got) != len(want) || !got[0].Equal(want[0]) || !got[1].Equal(want[1]) || !got[2].Equal(want[2]) {
		t.Fatalf("Deadlines = %v, want %v", got, want)
	}
	// A stop is a change: a waiter for fewer timers wakes.
	two := make(chan bool)
	go func() {
		two <- f.WaitUntil(func(_ time.Time, d []time.Time) bool { return len(d) == 2 }, done)
	}()
	a.Stop()
	if !<-two {
		t.Error("WaitUntil did not see the stop")
	}
	// So is a move of the time: a waiter for a time wakes.
	late := make(chan bool)
	go func() {
		late <- f.WaitUntil(func(now time.Time, _ []time.Time) bool { return !now.Before(start.Add(time.Minute)) }, done)
	}()
	f.Advance(time.Minute)
	if !<-late {
		t.Error("WaitUntil did not see the time move")
	}
	if got := f.Deadlines(); len(got) != 0 {
		t.Errorf("Deadlines after every timer fired = %v", got)
	}
	f.NewTimer(time.Second)
	f.AdvanceTo(start) // earlier: no move, nothing fires
	if got := f.Now(); !got.Equal(start.Add(time.Minute)) {
		t.Errorf("AdvanceTo an earlier time moved the clock to %v", got)
	}
	if n := f.Pending(); n != 1 {
		t.Errorf("Pending = %d after AdvanceTo an earlier time, want 1", n)
	}
	f.AdvanceTo(start.Add(time.Minute + time.Second))
	if n := f.Pending(); n != 0 {
		t.Errorf("Pending = %d after AdvanceTo the deadline, want 0", n)
	}
	never := make(chan struct{})
	close(never)
	if f.WaitUntil(func(time.Time, []time.Time) bool { return false }, never) {
		t.Error("WaitUntil reported true for a condition that never held")
	}
}
