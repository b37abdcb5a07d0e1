//go:build faults

package faults

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/internal/clock"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/receiver"
	"github.com/simhook/simhook/webhook"
)

// TestReceiverDownForAnHour queues 10,000 events while the receiver refuses
// connections for an hour of injected time, then brings it back: the next
// probe must find it within the probe cap (injected time), and every event
// must then arrive within seconds, oldest first, none dead-lettered, none
// twice.
func TestReceiverDownForAnHour(t *testing.T) {
	n := outageEvents
	clk := clock.NewFake(time.Now())
	l := newLab(t, lab.Options{Agent: agent.Options{Clock: clk, ProbeInterval: probeMax}, ReceiverNow: clk.Now})
	ctx := bounded(t, 5*time.Minute)
	out := l.Agent().Outbox()
	l.ReceiverStop()

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				_, err := out.Enqueue(ctx, outbox.Event{Type: webhook.ReceiveSMS, Phone: 1, DedupeKey: fmt.Sprint("outage/", i),
					Body: func(id uint64) ([]byte, error) {
						return fmt.Appendf(nil, `{"id":%d,"at":"2026-11-22 10:00:00","text":"queued %d","destination":1,"origin":"+33612345678","command":false,"mms":false,"medias":[]}`, id, i), nil
					}})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !out.Metrics().Offline {
		if time.Now().After(deadline) {
			t.Fatal("the outbox never noticed the receiver was unreachable")
		}
		time.Sleep(10 * time.Millisecond)
	}
	attemptsBefore := out.Metrics().Attempts
	for range 120 { // an hour, in steps of the probe cap
		clk.Advance(probeMax)
		time.Sleep(2 * time.Millisecond)
	}
	probes := out.Metrics().Attempts - attemptsBefore
	if err := l.ReceiverStart(); err != nil {
		t.Fatal(err)
	}
	// The next probe finds it back: at most ProbeMax after the last one.
	// The injected clock moves a second at a time, with real time between
	// the steps for the agent to act.
	back, simBack := time.Now(), clk.Now()
	for l.Count(webhook.ReceiveSMS) == 0 && clk.Now().Sub(simBack) < 3*probeMax {
		clk.Advance(time.Second)
		deadline := time.Now().Add(100 * time.Millisecond)
		for l.Count(webhook.ReceiveSMS) == 0 && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
	}
	firstSim := clk.Now().Sub(simBack)
	if err := l.WaitEvents(bounded(t, 90*time.Second), webhook.ReceiveSMS, n); err != nil {
		t.Logf("metrics %+v", out.Metrics())
		st, _ := out.Stats()
		t.Logf("stats %+v", st)
		t.Fatalf("%v (%d arrived)", err, l.Count(webhook.ReceiveSMS))
	}
	drain := time.Since(back)
	st, err := out.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range st.Endpoints {
		if e.Dead != 0 {
			t.Errorf("%s: %d dead-lettered", e.Name, e.Dead)
		}
	}
	seen := make(map[string]bool)
	// Oldest first: ids follow the order of the commits. Requests overlap
	// (4 in flight) and one that stalls (a new connection, a pause) is
	// overtaken, so an event may arrive some places from its rank; an
	// order by due time or newest first would put thousands out of place.
	var places []int
	for i, ev := range l.EventsOf(webhook.ReceiveSMS) {
		if seen[ev.ReceiveSMS.Text] {
			t.Errorf("%q twice under different ids", ev.ReceiveSMS.Text)
		}
		seen[ev.ReceiveSMS.Text] = true
		places = append(places, abs(int(ev.ReceiveSMS.ID)-1-i))
	}
	slices.Sort(places)
	p99, worst := places[len(places)*99/100], places[len(places)-1]
	t.Logf("%d events queued during an hour offline (%d probe requests meanwhile); first delivery %s of injected time after the receiver came back (probe cap %s); all delivered %s after it came back; distance from its rank p99 %d places, at most %d; duplicates absorbed by webhook id: %d",
		n, probes, firstSim, probeMax, drain.Round(time.Millisecond), p99, worst, l.Receiver.Stats().Duplicates)
	if firstSim > probeMax+time.Second {
		t.Errorf("first delivery %s after the receiver came back, beyond the probe cap %s", firstSim, probeMax)
	}
	if p99 > 4*4+1 || worst > 250 {
		t.Errorf("events arrived up to %d places from their rank (p99 %d): not oldest first", worst, p99)
	}
	if drain > 60*time.Second {
		t.Errorf("drain took %s", drain)
	}
}

// probeMax is the probe cap of the injected-clock outage (the default of
// delivery.probe_max).
const probeMax = 30 * time.Second

func abs(n int) int { return max(n, -n) }

// outageEvents is how many events queue during the outage.
var outageEvents = 10_000

// TestReceiverBackWhileSMSArrive takes the receiver away while SMS keep
// arriving, in real time, then brings it back: refusing connections for
// 20 s and for 60 s, and black-holing them (accepting, never answering;
// endpoint timeout 2 s) for 20 s. The first delivery must come within 2 s
// of the receiver answering again (it came 5–20 s after a refusal and
// 35–39 s after a black hole, with one probe per 30 s), and every SMS must
// arrive once.
func TestReceiverBackWhileSMSArrive(t *testing.T) {
	tests := []struct {
		name      string
		outage    time.Duration
		blackHole bool
	}{
		{"refused 20s", 20 * time.Second, false},
		{"refused 60s", 60 * time.Second, false},
		{"black hole 20s", 20 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each has its own lab and receiver address
			var arrived arrivals
			l := newLab(t, lab.Options{Stopped: true, OnEvent: arrived.hook})
			yaml := l.ConfigYAML()
			if tt.blackHole {
				if !strings.Contains(yaml, "timeout: 5s") {
					t.Fatalf("the lab's configuration has no endpoint timeout of 5s to shorten:\n%s", yaml)
				}
				yaml = strings.Replace(yaml, "timeout: 5s", "timeout: 2s", 1)
			}
			if err := l.WriteConfig(yaml); err != nil {
				t.Fatal(err)
			}
			if err := l.StartAgent(bounded(t, time.Minute)); err != nil {
				t.Fatal(err)
			}
			out := l.Agent().Outbox()
			addr := strings.TrimSuffix(strings.TrimPrefix(l.ReceiverURL, "http://"), "/hook")

			l.ReceiverStop()
			var hole *blackHole
			if tt.blackHole {
				var err error
				if hole, err = newBlackHole(addr); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(hole.Close) // also on a failure before its own Close
			}
			feed := startFeed(t, l, tt.name, 700*time.Millisecond)
			attempts := out.Metrics().Attempts
			time.Sleep(tt.outage)
			if n := l.Count(webhook.ReceiveSMS); n != 0 {
				t.Fatalf("%d SMS delivered while the receiver was away", n)
			}
			probes := out.Metrics().Attempts - attempts
			if hole != nil {
				hole.Close()
			}
			if err := l.ReceiverStart(); err != nil {
				t.Fatal(err)
			}
			back := time.Now()
			ctx := bounded(t, 2*time.Minute)
			if err := l.WaitFor(ctx, func() bool { return l.Count(webhook.ReceiveSMS) > 0 }, "the first delivery"); err != nil {
				t.Fatal(err)
			}
			injected := feed.stop()
			first := arrived.first().Sub(back)
			waitAll(t, ctx, l, len(injected))
			all := time.Since(back)
			st, err := out.Stats()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("receiver %s while %d SMS arrived: %d probe requests meanwhile; first delivery %s after it answered again; all %d delivered %s after",
				tt.name, len(injected), probes, first.Round(time.Millisecond), len(injected), all.Round(time.Millisecond))
			if first > 2*time.Second {
				t.Errorf("first delivery %s after the receiver answered again, want at most 2s", first)
			}
			for _, e := range st.Endpoints {
				if e.Dead != 0 {
					t.Errorf("%s: %d dead-lettered", e.Name, e.Dead)
				}
			}
			tally(t, l, injected)
		})
	}
}

// arrivals records when the receiver accepted events, by the real clock.
type arrivals struct {
	mu sync.Mutex
	at []time.Time
}

// hook is the lab's OnEvent.
func (a *arrivals) hook(v receiver.Verdict) {
	if v.Outcome != receiver.Accepted {
		return
	}
	a.mu.Lock()
	a.at = append(a.at, time.Now())
	a.mu.Unlock()
}

// first is when the first event was accepted.
func (a *arrivals) first() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.at) == 0 {
		return time.Time{}
	}
	return a.at[0]
}

// feed injects an SMS into the lab's modem every interval until stop.
type feed struct {
	stopc chan struct{}
	done  chan map[string]bool
}

func startFeed(t *testing.T, l *lab.Lab, name string, every time.Duration) *feed {
	f := &feed{stopc: make(chan struct{}), done: make(chan map[string]bool, 1)}
	go func() {
		injected := make(map[string]bool)
		defer func() { f.done <- injected }()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; ; i++ {
			text := fmt.Sprintf("%s #%d", name, i)
			if _, err := l.Modems[0].InjectSMS(modemsim.SMS{From: "+33612345678", Text: text}); err != nil {
				t.Errorf("inject: %v", err)
				return
			}
			injected[text] = true
			select {
			case <-f.stopc:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { f.stop() })
	return f
}

// stop ends the feed and returns the texts injected (once; later calls
// return nil).
func (f *feed) stop() map[string]bool {
	select {
	case <-f.stopc:
		return nil
	default:
	}
	close(f.stopc)
	return <-f.done
}

// blackHole accepts TCP connections on an address and never answers, as a
// hung receiver does; Close drops them, as its restart would.
type blackHole struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	done  chan struct{}
}

func newBlackHole(addr string) (*blackHole, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	h := &blackHole{ln: ln, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
		}
	}()
	return h, nil
}

// Close stops listening and drops the connections held.
func (h *blackHole) Close() {
	h.ln.Close()
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.Close()
	}
}
