package outbox

import (
	"context"
	"testing"
	"time"

	"github.com/simhook/simhook/internal/clock"
)

// settleAs records an attempt's outcome for every pending delivery of the
// file, as the dispatcher would after sending them.
func settleAs(t *testing.T, o *Outbox, status int) {
	t.Helper()
	var picks []pick
	if err := o.List(ListFilter{State: StatePending}, func(d DeliveryInfo) error {
		picks = append(picks, pick{seq: d.Seq, endpoint: d.Endpoint})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range picks {
		o.settle(attemptResult{pick: p, status: status, started: o.opts.Clock.Now()}, func() {})
	}
}

// cursors is how many cursors the file's transactions have opened (every
// seek and every Get opens one): a measure of the records a call visits.
func cursors(o *Outbox) int64 { s := o.db.Stats(); return s.TxStats.GetCursorCount() }

// TestPeriodicWorkDoesNotGrowWithHistory: retention and Stats, which run
// periodically for months, visit what is due or pending, not every event
// the file still holds. A file with 10 or 200 events kept (dead letters
// not yet due to go, delivered events inside their retention) costs a
// prune and a Stats the same few cursors. Retention used to walk the
// events from the first one on every run.
func TestPeriodicWorkDoesNotGrowWithHistory(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		status int // how the history's deliveries ended
	}{
		{"dead letters", 400},
		{"delivered", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work := make(map[int][2]int64) // history size → cursors of prune, of Stats
			for _, n := range []int{10, 200} {
				clk := clock.NewFake(start)
				o := open(t, Options{Clock: clk, Retention: time.Hour})
				ep := benchEndpoint("http://127.0.0.1:1/")
				ep.Retry.ClientErrorAttempts = 1
				if err := o.SetEndpoints([]Endpoint{ep}); err != nil {
					t.Fatal(err)
				}
				// Events of a month ago (SMS read late, say), settled now.
				for i := range n {
					ev := benchEventKey(i)
					ev.Time = start.Add(-30 * 24 * time.Hour)
					if _, err := o.Enqueue(context.Background(), ev); err != nil {
						t.Fatal(err)
					}
				}
				settleAs(t, o, tt.status)
				clk.Advance(30 * time.Minute) // inside the retention
				before := cursors(o)
				if _, err := o.prune(clk.Now(), time.Hour, 720*time.Hour); err != nil {
					t.Fatal(err)
				}
				mid := cursors(o)
				st, err := o.Stats()
				if err != nil {
					t.Fatal(err)
				}
				if st.Events != n {
					t.Fatalf("%d events kept, want %d", st.Events, n)
				}
				work[n] = [2]int64{mid - before, cursors(o) - mid}
			}
			t.Logf("cursors (prune, Stats) by history size: %v", work)
			if work[200][0] > work[10][0] {
				t.Errorf("prune opened %d cursors with 200 events kept, %d with 10", work[200][0], work[10][0])
			}
			if work[200][1] > work[10][1] {
				t.Errorf("Stats opened %d cursors with 200 events kept, %d with 10", work[200][1], work[10][1])
			}
		})
	}
}
