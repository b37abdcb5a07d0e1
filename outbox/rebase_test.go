package outbox

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

// capture records what each request carried.
type capture struct {
	mu   sync.Mutex
	got  []captured
	fail map[string]int // endpoint path → requests to answer 500 first
}

type captured struct {
	path      string
	timestamp int64  // webhook_timestamp (the event's time)
	header    int64  // webhook-timestamp (the attempt's time)
	randomID  string // webhook_random_id
	start     string // inbound_call start
	status    int
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ev, err := webhook.ParseRequest(r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	hdr, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
	got := captured{path: r.URL.Path, timestamp: ev.Timestamp, header: hdr, randomID: ev.RandomID, status: http.StatusOK}
	if ev.InboundCall != nil {
		got.start = ev.InboundCall.Start
	}
	c.mu.Lock()
	if c.fail[r.URL.Path] > 0 {
		c.fail[r.URL.Path]--
		got.status = http.StatusInternalServerError
	}
	c.got = append(c.got, got)
	c.mu.Unlock()
	w.WriteHeader(got.status)
}

func (c *capture) requests() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]captured(nil), c.got...)
}

// TestRebaseUnsyncedEvents: an event made while the clock was not known to
// be synchronised goes out, once it is, with its time re-based: the wall
// clock now minus the boot time elapsed since the event (same boot), or
// the time of its first send (another boot). Every endpoint and every retry
// carry the same re-based time and their own unchanged random id; body
// dates the agent stamped move by the same amount; an event made after the
// sync keeps its time.
func TestRebaseUnsyncedEvents(t *testing.T) {
	t.Parallel()
	const layout = webhook.DateLayout
	stale := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) // fake-hwclock's last shutdown
	jump := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC).Sub(stale)
	tests := []struct {
		name      string
		rebootAt  bool // the event was made in another boot
		synced    bool // the clock was known synchronised when it was made
		wantShift time.Duration
	}{
		{"same boot: re-based by CLOCK_BOOTTIME", false, false, jump},
		{"made synchronised: unchanged", false, true, 0},
		{"another boot: stamped at first send", true, false, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock(stale)
			var synced atomic.Bool
			synced.Store(tt.synced)
			var jumped atomic.Int64 // how far the wall clock was set, not elapsed
			boot := "boot-1"
			bootClock := func() (string, time.Duration, error) {
				since := 100*time.Second + clk.Now().Sub(stale) - time.Duration(jumped.Load())
				return boot, since, nil
			}
			c := &capture{fail: map[string]int{"/a": 1}}
			srv := httptest.NewServer(c)
			t.Cleanup(srv.Close)
			o := open(t, Options{Clock: clk, RequireTimeSync: true,
				ClockState: func() ClockState { return ClockState{Known: true, Synced: synced.Load(), Source: "test"} },
				BootClock:  bootClock})
			var eps []Endpoint
			for _, name := range []string{"a", "b"} {
				ep := Endpoint{Endpoint: webhook.Endpoint{Name: name, URL: srv.URL + "/" + name, Secrets: []string{testSecret}},
					Timeout: 2 * time.Second, Retry: RetryPolicy{Initial: time.Second, MaxInterval: time.Second, MaxAge: time.Hour, ClientErrorAttempts: 3}}
				eps = append(eps, ep)
			}
			if err := o.SetEndpoints(eps); err != nil {
				t.Fatal(err)
			}
			clk.Advance(5 * time.Second)
			made := clk.Now()
			start := made.Add(-3 * time.Second).Format(layout)
			_, err := o.Enqueue(context.Background(), Event{Type: webhook.InboundCall, Phone: 1, Time: made, LocalTimes: []string{"start", "end"},
				Body: func(id uint64) ([]byte, error) {
					return fmt.Appendf(nil, `{"id":%d,"start":%q,"end":null,"origin":"+33612345678","id_user":1}`, id, start), nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			if tt.synced {
				// Stamped synchronised; the wall clock is then set anyway.
				synced.Store(false)
			}
			clk.Advance(20 * time.Second)
			if tt.rebootAt {
				boot = "boot-2"
			}
			// NTP steps the clock and the guard learns it.
			jumped.Store(int64(jump))
			clk.Advance(jump)
			synced.Store(true)
			run(t, o)
			deadline := time.Now().Add(20 * time.Second)
			for len(c.requests()) < 3 {
				if time.Now().After(deadline) {
					t.Fatalf("requests %+v", c.requests())
				}
				o.Kick()
				clk.Advance(500 * time.Millisecond)
				time.Sleep(5 * time.Millisecond)
			}
			reqs := c.requests()
			want := made.Add(tt.wantShift)
			if tt.wantShift < 0 {
				// Stamped at its first send: after the jump, not before it.
				if first := time.Unix(reqs[0].timestamp, 0); first.Before(stale.Add(jump)) {
					t.Fatalf("timestamp %s is before the synchronised clock", first)
				}
				want = time.Unix(reqs[0].timestamp, 0)
			}
			ids := map[string]string{}
			for _, r := range reqs {
				if r.timestamp != want.Unix() {
					t.Errorf("%s: webhook_timestamp %s, want %s", r.path, time.Unix(r.timestamp, 0).UTC(), want.UTC())
				}
				wantStart := time.Unix(want.Unix(), 0).UTC().Add(-3 * time.Second).Format(layout)
				if tt.synced {
					wantStart = start
				}
				if r.start != wantStart {
					t.Errorf("%s: start %q, want %q", r.path, r.start, wantStart)
				}
				if prefix := strconv.FormatInt(r.timestamp, 10) + "-"; !strings.HasPrefix(r.randomID, prefix) {
					t.Errorf("%s: webhook_random_id %s does not start with webhook_timestamp %d", r.path, r.randomID, r.timestamp)
				}
				if prev, ok := ids[r.path]; ok && prev != r.randomID {
					t.Errorf("%s: random id changed across retries: %s then %s", r.path, prev, r.randomID)
				}
				ids[r.path] = r.randomID
			}
			if ids["/a"] == ids["/b"] || len(ids) != 2 {
				t.Errorf("random ids per endpoint: %v", ids)
			}
			rebased := o.Metrics().ClockRebased
			if (tt.wantShift != 0) != (rebased == 1) {
				t.Errorf("clock_rebased = %d", rebased)
			}
		})
	}
}
