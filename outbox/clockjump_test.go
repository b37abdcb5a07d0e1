package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// jumpClock is the real clock shifted by an offset that a test changes: a
// Raspberry Pi without a real-time clock that boots days behind (or in
// 1970) and jumps when NTP syncs.
type jumpClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *jumpClock) NewTimer(d time.Duration) Timer { return RealClock{}.NewTimer(d) }

func (c *jumpClock) set(off time.Duration) {
	c.mu.Lock()
	c.off = off
	c.mu.Unlock()
}

// deliveryOf loads the delivery of seq to endpoint.
func deliveryOf(t *testing.T, o *Outbox, seq uint64, endpoint string) deliveryRecord {
	t.Helper()
	var d deliveryRecord
	err := o.db.View(func(tx *bbolt.Tx) error {
		var err error
		d, _, err = getDelivery(tx, seq, endpoint)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestClockJumpForward: an event committed while the clock was days behind
// (or in 1970), then answered 503 twice after NTP moved the clock forward,
// is retried and delivered, not dead-lettered after one attempt (the jump
// is not age); and its dedupe key survives the pruning the jump triggers,
// so the same SMS read again is a duplicate, not a second event.
func TestClockJumpForward(t *testing.T) {
	t.Parallel()
	to1970 := time.Until(time.Unix(3600, 0))
	tests := []struct {
		name   string
		behind time.Duration
		// held: RequireTimeSync holds sending until NTP; otherwise the
		// first attempt goes out with the wrong clock and NTP syncs while
		// it is in flight.
		held bool
	}{
		{"8 days behind, held until NTP", -8 * 24 * time.Hour, true},
		{"1970, held until NTP", to1970, true},
		{"8 days behind, sent before NTP", -8 * 24 * time.Hour, false},
		{"1970, sent before NTP", to1970, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := &jumpClock{off: tt.behind}
			var synced atomic.Bool
			ntp := func() { clk.set(0); synced.Store(true) }
			rc := newReceiver(t, func(n int) int {
				if n == 1 && !tt.held {
					ntp()
				}
				if n <= 2 {
					return http.StatusServiceUnavailable
				}
				return http.StatusOK
			})
			rc.now = clk.Now
			o := open(t, Options{Clock: clk, RequireTimeSync: tt.held, TimeSynced: synced.Load})
			ep := rc.endpoint("crm")
			ep.Retry.MaxAge = 168 * time.Hour // the default
			if err := o.SetEndpoints([]Endpoint{ep}); err != nil {
				t.Fatal(err)
			}
			res, err := o.Enqueue(context.Background(), benchEventKey(1))
			if err != nil {
				t.Fatal(err)
			}
			if tt.held {
				ntp()
			}
			run(t, o)
			var d deliveryRecord
			waitFor(t, 10*time.Second, "the delivery to finish", func() bool {
				d = deliveryOf(t, o, res.Seq, "crm")
				return d.State != StatePending
			})
			if d.State != StateDelivered || rc.delivered() != 1 {
				t.Errorf("after two 503s across the clock jump: state %s, attempts %d, receiver got %d", d.State, d.Attempts, rc.delivered())
			}
			// Retention as it runs after the jump: the event was made
			// "8 days ago" by the clock of the time.
			if _, err := o.prune(clk.Now(), o.settings().Retention, o.settings().DeadRetention); err != nil {
				t.Fatal(err)
			}
			again, err := o.Enqueue(context.Background(), benchEventKey(1))
			if err != nil {
				t.Fatal(err)
			}
			if !again.Duplicate || again.Seq != res.Seq {
				t.Errorf("the same source enqueued again after the jump: duplicate %v, seq %d (first %d)", again.Duplicate, again.Seq, res.Seq)
			}
			if st, _ := o.Stats(); st.Events != 1 {
				t.Errorf("%d events after pruning, want the one just delivered (kept for Retention after its delivery)", st.Events)
			}
			checkCounts(t, o)
		})
	}
}

// aheadTransport fails every request at the transport level while the
// clock is ahead.
type aheadTransport struct{ clk *jumpClock }

func (a aheadTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if a.clk.ahead() {
		return nil, errors.New("connection refused (test)")
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (c *jumpClock) ahead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.off > 0
}

// TestClockJumpBack: a clock a month ahead (a bad time source) that is set
// back after a failed attempt does not hold the retry (nor, offline, the
// probe) until the old due time comes round again.
func TestClockJumpBack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		refuse bool // no answer while ahead: offline, probes only
	}{
		{"503 then set back", false},
		{"refused (offline) then set back", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := &jumpClock{off: 30 * 24 * time.Hour}
			rc := newReceiver(t, func(int) int {
				if clk.ahead() {
					return http.StatusServiceUnavailable
				}
				return http.StatusOK
			})
			rc.now = clk.Now
			opts := Options{Clock: clk}
			if tt.refuse {
				opts.HTTPClient = &http.Client{Transport: aheadTransport{clk}}
			}
			o := open(t, opts)
			ep := rc.endpoint("crm")
			ep.Retry.Initial, ep.Retry.MaxInterval = time.Second, 2*time.Second
			if err := o.SetEndpoints([]Endpoint{ep}); err != nil {
				t.Fatal(err)
			}
			res, err := o.Enqueue(context.Background(), benchEventKey(1))
			if err != nil {
				t.Fatal(err)
			}
			run(t, o)
			waitFor(t, 5*time.Second, "a failed attempt", func() bool {
				if tt.refuse {
					return o.Metrics().Offline
				}
				return deliveryOf(t, o, res.Seq, "crm").Attempts > 0
			})
			clk.set(0)
			waitFor(t, 10*time.Second, "the retry after the clock went back", func() bool {
				return deliveryOf(t, o, res.Seq, "crm").State == StateDelivered
			})
		})
	}
}

// TestRetryAge: the age a delivery has spent of its retry budget counts
// the time between attempts that was online, each gap at most what was
// scheduled plus ageSlack, so a clock that jumps (either way) cannot spend
// the budget; a record stored before AgedAt existed ages from Created.
func TestRetryAge(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	type ageCase struct {
		name     string
		d        deliveryRecord
		now      time.Time
		offTotal time.Duration
		want     time.Duration
	}
	tests := []ageCase{
		{"first attempt, on time",
			deliveryRecord{Created: t0, NextDue: t0}, t0.Add(10 * time.Second), 0, 10 * time.Second},
		{"first attempt after a week's forward jump",
			deliveryRecord{Created: t0, NextDue: t0}, t0.Add(8 * 24 * time.Hour), 0, ageSlack},
		{"retry on schedule adds the gap",
			deliveryRecord{Created: t0, Age: time.Hour, AgedAt: t0.Add(time.Hour), NextDue: t0.Add(2 * time.Hour)}, t0.Add(2 * time.Hour), 0, 2 * time.Hour},
		{"retry after a forward jump adds at most the schedule and slack",
			deliveryRecord{Created: t0, Age: time.Hour, AgedAt: t0.Add(time.Hour), NextDue: t0.Add(2 * time.Hour)}, t0.Add(30 * 24 * time.Hour), 0, 2*time.Hour + ageSlack},
		{"retry after a backward jump adds nothing",
			deliveryRecord{Created: t0, Age: time.Hour, AgedAt: t0.Add(time.Hour), NextDue: t0.Add(2 * time.Hour)}, t0.Add(-24 * time.Hour), 0, time.Hour},
		{"time offline is not counted",
			deliveryRecord{Created: t0, Age: time.Hour, AgedAt: t0.Add(time.Hour), OfflineAtAged: time.Minute, NextDue: t0.Add(2 * time.Hour)}, t0.Add(2 * time.Hour), 31 * time.Minute, 90 * time.Minute},
	}
	// A record written before the fields existed.
	var old deliveryRecord
	if err := json.Unmarshal([]byte(`{"endpoint":"crm","random_id":"x","state":"pending","attempts":3,"next_due":"2026-03-01T13:00:00Z","created":"2026-03-01T12:00:00Z","offline_at_create":60000000000}`), &old); err != nil {
		t.Fatal(err)
	}
	tests = append(tests, ageCase{"record without age fields ages from Created", old, t0.Add(time.Hour), 11 * time.Minute, 50 * time.Minute})
	for _, tt := range tests {
		if got := tt.d.retryAge(tt.now, tt.offTotal); got != tt.want {
			t.Errorf("%s: age %s, want %s", tt.name, got, tt.want)
		}
	}
}
