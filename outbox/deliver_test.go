package outbox

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simhook/simhook/internal/clock"
	"github.com/simhook/simhook/webhook"
)

// TestOutcomes drives one endpoint through each answer class.
func TestOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		answer    func(n int) int
		wantState string
		wantMin   int // minimum requests seen
		delay     func(n int) time.Duration
		timeout   time.Duration
	}{
		{"ok at once", func(int) int { return 200 }, StateDelivered, 1, nil, 0},
		{"500 then ok", func(n int) int { return map[bool]int{true: 500, false: 204}[n <= 3] }, StateDelivered, 4, nil, 0},
		{"429 then ok", func(n int) int { return map[bool]int{true: 429, false: 200}[n <= 1] }, StateDelivered, 2, nil, 0},
		{"408 then ok", func(n int) int { return map[bool]int{true: 408, false: 200}[n <= 2] }, StateDelivered, 3, nil, 0},
		{"400 dead after 3", func(int) int { return 400 }, StateDead, 3, nil, 0},
		{"410 disables", func(int) int { return 410 }, StateDisabled, 1, nil, 0},
		{"timeouts then ok", func(int) int { return 200 }, StateDelivered, 3,
			func(n int) time.Duration { return map[bool]time.Duration{true: time.Second}[n <= 2] }, 150 * time.Millisecond},
		{"slow but in time", func(int) int { return 200 }, StateDelivered, 1,
			func(int) time.Duration { return 300 * time.Millisecond }, time.Second},
		{"3xx is a client error", func(int) int { return 302 }, StateDead, 3, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newReceiver(t, tt.answer)
			r.delay = tt.delay
			o := open(t, Options{})
			ep := r.endpoint("e")
			if tt.timeout > 0 {
				ep.Timeout = tt.timeout
			}
			if err := o.SetEndpoints([]Endpoint{ep}); err != nil {
				t.Fatal(err)
			}
			run(t, o)
			enqueueN(t, o, 0, 1)
			var last DeliveryInfo
			waitFor(t, 10*time.Second, tt.wantState, func() bool {
				_ = o.List(ListFilter{}, func(d DeliveryInfo) error { last = d; return nil })
				return last.State == tt.wantState
			})
			r.mu.Lock()
			n := r.n
			r.mu.Unlock()
			if n < tt.wantMin {
				t.Errorf("%d requests, want at least %d", n, tt.wantMin)
			}
			if r.bad != 0 {
				t.Errorf("%d requests failed verification", r.bad)
			}
			r.mu.Lock()
			if len(r.tried) != 1 || r.tried[last.RandomID] == 0 {
				t.Errorf("retries carried random ids %v, want only %s", r.tried, last.RandomID)
			}
			r.mu.Unlock()
			if tt.wantState == StateDelivered {
				for id, bodies := range r.got {
					if id != last.RandomID || len(bodies) != 1 {
						t.Errorf("random id %s (want %s) delivered %d times", id, last.RandomID, len(bodies))
					}
				}
			}
		})
	}
}

// TestRetryAfterHonoured checks a 429's Retry-After delays the retry.
func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var first, second time.Time
	r := newReceiver(t, nil)
	r.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if first.IsZero() {
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
			return
		}
		if second.IsZero() {
			second = time.Now()
		}
		w.WriteHeader(200)
	})
	o := open(t, Options{})
	_ = o.SetEndpoints([]Endpoint{r.endpoint("e")})
	run(t, o)
	enqueueN(t, o, 0, 1)
	waitFor(t, 5*time.Second, "the retry", func() bool { mu.Lock(); defer mu.Unlock(); return !second.IsZero() })
	mu.Lock()
	defer mu.Unlock()
	if d := second.Sub(first); d < 900*time.Millisecond {
		t.Errorf("retried after %s despite Retry-After: 1", d)
	}
}

// TestDedupeKey checks a second enqueue of the same source stores nothing.
func TestDedupeKey(t *testing.T) {
	t.Parallel()
	o := open(t, Options{})
	ev := Event{Type: webhook.ReceiveSMS, DedupeKey: "sms/abc", Body: func(id uint64) ([]byte, error) { return []byte(`{}`), nil }}
	a, err := o.Enqueue(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	b, err := o.Enqueue(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if a.Duplicate || !b.Duplicate || b.ID != a.ID || b.Seq != a.Seq {
		t.Fatalf("first %+v, second %+v", a, b)
	}
	st, _ := o.Stats()
	if st.Events != 1 {
		t.Fatalf("%d events stored", st.Events)
	}
}

// TestOutageDrainsAtOnce keeps the receiver failing (503) while events queue
// and back off (ten minutes and more, on an injected clock), then checks
// that once it answers again the whole backlog goes out at once, while
// the clock stays before any of those backoffs ends, none dead.
func TestOutageDrainsAtOnce(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	down.Store(true)
	r := newReceiver(t, func(int) int {
		if down.Load() {
			return 503
		}
		return 200
	})
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	r.now = clk.Now
	o := open(t, Options{Clock: clk, TimeSynced: func() bool { return true }, ProbeInterval: 30 * time.Second, Concurrency: 8})
	ep := r.endpoint("e")
	ep.Retry = RetryPolicy{Initial: 20 * time.Minute, MaxInterval: time.Hour, MaxAge: 168 * time.Hour}
	_ = o.SetEndpoints([]Endpoint{ep})
	run(t, o)
	const n = 300
	enqueueN(t, o, 0, n)
	waitFor(t, 30*time.Second, "one failed attempt each", func() bool {
		failed := 0
		_ = o.List(ListFilter{State: StatePending}, func(d DeliveryInfo) error {
			if d.Attempts == 1 {
				failed++
			}
			return nil
		})
		return failed == n
	})
	down.Store(false)
	// The next probe is due within 1.5×ProbeMax; every backoff ends ten
	// minutes or more after start.
	clk.Set(start.Add(time.Minute))
	waitFor(t, 30*time.Second, "the drain", func() bool { return r.delivered() == n })
	waitFor(t, 30*time.Second, "the last acknowledgements", func() bool {
		st, _ := o.Stats()
		return st.Endpoints[0].Pending == 0
	})
	if st, _ := o.Stats(); st.Endpoints[0].Dead != 0 || st.Endpoints[0].Delivered != n {
		t.Errorf("stats after drain: %+v", st.Endpoints[0])
	}
	if now := clk.Now(); !now.Equal(start.Add(time.Minute)) {
		t.Errorf("the clock moved to %s", now)
	}
}

// TestOfflineDoesNotSpendBudget: connection refused everywhere makes the
// outbox offline; attempts then do not count, and events survive beyond
// MaxAge of wall time spent offline.
func TestOfflineDoesNotSpendBudget(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, nil)
	url := r.srv.URL
	r.srv.Close() // connection refused
	o := open(t, Options{ProbeInterval: 30 * time.Millisecond})
	ep := r.endpoint("e")
	ep.URL = url + "/hook"
	ep.Retry.MaxAge = 300 * time.Millisecond
	_ = o.SetEndpoints([]Endpoint{ep})
	run(t, o)
	enqueueN(t, o, 0, 5)
	waitFor(t, 5*time.Second, "offline", func() bool { return o.Metrics().Offline })
	time.Sleep(600 * time.Millisecond) // twice MaxAge, offline
	st, _ := o.Stats()
	if st.Online || st.Endpoints[0].Dead != 0 || st.Endpoints[0].Pending != 5 {
		t.Fatalf("after an outage longer than MaxAge: %+v", st)
	}
}

// TestParseRetryAfter covers both forms of Retry-After.
func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"120", 2 * time.Minute},
		{"-5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestOneEndpointDownIsNotOffline: with one endpoint refusing and another
// answering, the network is not down: the answering endpoint gets
// everything at once. The refusing endpoint is unreachable: its time
// unreachable is not counted, so its deliveries outlive their MaxAge
// (they used to spend their budget and die), attempts are not counted,
// and only probes go out to it.
func TestOneEndpointDownIsNotOffline(t *testing.T) {
	t.Parallel()
	up := newReceiver(t, nil)
	down := newReceiver(t, nil)
	downURL := down.srv.URL
	down.srv.Close()
	o := open(t, Options{ProbeInterval: 30 * time.Millisecond})
	a := down.endpoint("down")
	a.URL = downURL + "/hook"
	a.Retry.MaxAge = 200 * time.Millisecond
	if err := o.SetEndpoints([]Endpoint{a, up.endpoint("up")}); err != nil {
		t.Fatal(err)
	}
	run(t, o)
	const n = 5
	for i := range n {
		enqueueN(t, o, i, 1)
		time.Sleep(20 * time.Millisecond) // keep "up" answering between failures
	}
	waitFor(t, 10*time.Second, "the answering endpoint's deliveries", func() bool { return up.delivered() == n })
	time.Sleep(3 * a.Retry.MaxAge) // unreachable for longer than MaxAge
	st, err := o.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range st.Endpoints {
		if e.Name == "down" && (e.Dead != 0 || e.Pending != n || !e.Unreachable) {
			t.Errorf("the unreachable endpoint after 3×MaxAge: %+v", e)
		}
	}
	if !st.Online {
		t.Error("offline with one endpoint answering")
	}
	if err := o.List(ListFilter{Endpoint: "down"}, func(d DeliveryInfo) error {
		if d.Attempts != 0 {
			t.Errorf("event %d: %d attempts counted while unreachable", d.Seq, d.Attempts)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if m := o.Metrics(); m.Deliveries["down"][OutcomeOffline] == 0 || m.Offline || m.OfflineTotal != 0 || m.Deliveries["up"][OutcomeDelivered] != n {
		t.Errorf("metrics: %+v", m)
	}
}
