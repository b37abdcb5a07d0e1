package outbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

// stateCount counts deliveries in a state.
func stateCount(t *testing.T, o *Outbox, state string) int {
	t.Helper()
	n := 0
	if err := o.List(ListFilter{State: state}, func(DeliveryInfo) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRetryPurgeEnable: dead deliveries come back with Retry (one event,
// then all), Purge drops dead ones, and a 410-disabled endpoint keeps
// queuing until EnableEndpoint sends everything.
func TestRetryPurgeEnable(t *testing.T) {
	t.Parallel()
	status := 400
	r := newReceiver(t, func(int) int { return status })
	setStatus := func(s int) { r.mu.Lock(); status = s; r.mu.Unlock() }
	o := open(t, Options{})
	if err := o.SetEndpoints([]Endpoint{r.endpoint("e")}); err != nil {
		t.Fatal(err)
	}
	run(t, o)

	enqueueN(t, o, 0, 5)
	waitFor(t, 10*time.Second, "5 dead", func() bool { return stateCount(t, o, StateDead) == 5 })
	setStatus(200)
	var first uint64
	_ = o.List(ListFilter{State: StateDead, Limit: 1}, func(d DeliveryInfo) error { first = d.Seq; return nil })
	if n, err := o.Retry(RetrySelector{Seq: first}); err != nil || n != 1 {
		t.Fatalf("retry one: %d, %v", n, err)
	}
	waitFor(t, 5*time.Second, "the retried event", func() bool { return stateCount(t, o, StateDelivered) == 1 })
	if n, err := o.Retry(RetrySelector{}); err != nil || n != 0 {
		t.Fatalf("an empty selector retried %d (%v)", n, err)
	}
	if n, err := o.Retry(RetrySelector{AllDead: true}); err != nil || n != 4 {
		t.Fatalf("retry all: %d, %v", n, err)
	}
	waitFor(t, 5*time.Second, "all retried", func() bool { return stateCount(t, o, StateDelivered) == 5 })

	setStatus(400)
	enqueueN(t, o, 5, 3)
	waitFor(t, 10*time.Second, "3 dead", func() bool { return stateCount(t, o, StateDead) == 3 })
	if n, err := o.Purge(PurgeSelector{Dead: true}); err != nil || n != 3 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	if st, _ := o.Stats(); st.Endpoints[0].Dead != 0 || stateCount(t, o, StateDead) != 0 {
		t.Fatalf("after purge: %+v", st.Endpoints[0])
	}

	setStatus(410)
	enqueueN(t, o, 8, 1)
	waitFor(t, 5*time.Second, "disabled", func() bool { st, _ := o.Stats(); return st.Endpoints[0].Disabled })
	enqueueN(t, o, 9, 4)
	time.Sleep(100 * time.Millisecond)
	if n := stateCount(t, o, StateDisabled); n != 5 {
		t.Fatalf("%d deliveries shown disabled-endpoint, want 5", n)
	}
	setStatus(200)
	if err := o.EnableEndpoint("e"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the disabled backlog", func() bool { return stateCount(t, o, StateDelivered) == 10 })
	checkCounts(t, o)
}

// TestListShowCompact: List filters and limits, Show finds one event with
// its deliveries (ErrNotFound otherwise), and Compact makes a file that
// opens with the same content.
func TestListShowCompact(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "outbox.db")
	o, err := Open(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	eps := []Endpoint{
		{Endpoint: webhook.Endpoint{Name: "a", URL: "http://127.0.0.1:1/", Secrets: []string{testSecret}}},
		{Endpoint: webhook.Endpoint{Name: "b", URL: "http://127.0.0.1:1/", Secrets: []string{testSecret}}, Events: []webhook.Type{webhook.InboundCall}},
	}
	if err := o.SetEndpoints(eps); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, o, 0, 4) // receive_sms: a only
	call, err := o.Enqueue(context.Background(), Event{Type: webhook.InboundCall, Body: func(id uint64) ([]byte, error) { return fmt.Appendf(nil, `{"id":%d}`, id), nil }})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		f    ListFilter
		want int
	}{
		{ListFilter{}, 6},
		{ListFilter{Endpoint: "a"}, 5},
		{ListFilter{Endpoint: "b"}, 1},
		{ListFilter{Type: webhook.InboundCall}, 2},
		{ListFilter{State: StatePending}, 6},
		{ListFilter{State: StateDead}, 0},
		{ListFilter{Limit: 2}, 2},
	}
	for _, tt := range tests {
		n := 0
		if err := o.List(tt.f, func(DeliveryInfo) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != tt.want {
			t.Errorf("List(%+v): %d, want %d", tt.f, n, tt.want)
		}
	}
	ev, err := o.Show(call.Seq)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != webhook.InboundCall || ev.ID != call.ID || len(ev.Deliveries) != 2 || string(ev.Body) != fmt.Sprintf(`{"id":%d}`, call.ID) {
		t.Errorf("Show: %+v", ev)
	}
	if _, err := o.Show(999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Show(999): %v", err)
	}
	if err := Compact(src, filepath.Join(dir, "locked.db")); err == nil {
		t.Error("Compact of a file held open succeeded")
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "compact.db")
	if err := Compact(src, dst); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dst, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 5 || len(st.Endpoints) != 2 || st.Endpoints[0].Pending != 5 || st.Endpoints[1].Pending != 1 {
		t.Errorf("compacted file: %+v", st)
	}
	checkCounts(t, c)
	checkFile(t, c.db)
}

// TestPurgeLeavesRetentionAlone: a purge by age while the dispatcher runs
// neither changes the configured retention nor races with the dispatcher's
// reads of it (the race detector in CI sees any shared write; an earlier
// Purge overwrote the option, and a 64-bit value can tear on armhf).
func TestPurgeLeavesRetentionAlone(t *testing.T) {
	t.Parallel()
	o := open(t, Options{Retention: 48 * time.Hour})
	run(t, o)
	enqueueN(t, o, 0, 3)
	for range 20 {
		o.Kick()
		if _, err := o.Purge(PurgeSelector{OlderThan: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	if got := o.settings().Retention; got != 48*time.Hour {
		t.Errorf("retention %s after purges by age, want 48h", got)
	}
}
