package outbox

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestRequireTimeSyncHolds: nothing is sent while the clock is reported
// unsynchronised; the hold shows in Stats and Metrics; once synchronised,
// the events go out.
func TestRequireTimeSyncHolds(t *testing.T) {
	t.Parallel()
	var synced atomic.Bool
	r := newReceiver(t, nil)
	o := open(t, Options{RequireTimeSync: true, TimeSynced: synced.Load})
	if err := o.SetEndpoints([]Endpoint{r.endpoint("e")}); err != nil {
		t.Fatal(err)
	}
	run(t, o)
	enqueueN(t, o, 0, 3)
	time.Sleep(300 * time.Millisecond)
	r.mu.Lock()
	n := r.n
	r.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d requests sent with an unsynchronised clock", n)
	}
	if st, _ := o.Stats(); !st.TimeSyncHold || !o.Metrics().TimeSyncHold {
		t.Fatalf("hold not reported: %+v", st)
	}
	synced.Store(true)
	waitFor(t, 5*time.Second, "the held events", func() bool { return r.delivered() == 3 })
	if o.Metrics().TimeSyncHold {
		t.Error("hold still reported after sync")
	}
}
