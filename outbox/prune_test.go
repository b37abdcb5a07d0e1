package outbox

import (
	"context"
	"testing"
	"time"
)

// TestRetention: after Retention, finished events and their dedupe keys go
// (the key can then be enqueued anew); an event still pending stays with
// its key (its source read again is still a duplicate), and newer events
// and keys are untouched.
func TestRetention(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	o := open(t, Options{Clock: clock, Retention: time.Hour})
	enqueueN(t, o, 0, 3) // no endpoint: nothing to deliver, finished at once
	// One with a delivery that never happens (no Run).
	if err := o.SetEndpoints([]Endpoint{{Endpoint: benchEndpoint("http://127.0.0.1:1/").Endpoint}}); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, o, 3, 1)
	if err := o.SetEndpoints(nil); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	enqueueN(t, o, 4, 1)
	n, err := o.prune(clock.Now(), o.settings().Retention, o.settings().DeadRetention)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("pruned %d events, want 3", n)
	}
	st, err := o.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 2 {
		t.Errorf("%d events left, want the pending one and the new one", st.Events)
	}
	for i, wantDup := range map[int]bool{0: false, 3: true, 4: true} {
		res, err := o.Enqueue(context.Background(), benchEventKey(i))
		if err != nil {
			t.Fatal(err)
		}
		if res.Duplicate != wantDup {
			t.Errorf("key %d: duplicate %v, want %v", i, res.Duplicate, wantDup)
		}
	}
	checkFile(t, o.db)
	checkCounts(t, o)
}
