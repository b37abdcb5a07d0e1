package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/fleet/fleettest"
)

// gateway models an agent behind Serve: a queue of committed requests that
// holds at most limit, drained by a worker that "sends" them.
type gateway struct {
	name  string
	limit int
	wake  chan struct{}

	mu     sync.Mutex
	queue  []string
	seen   map[string]int
	order  []string
	over   int // requests handed over while the queue was full
	pokeCh chan struct{}
}

func newGateway(name string, limit int) *gateway {
	return &gateway{name: name, limit: limit, wake: make(chan struct{}, 1), seen: map[string]int{}, pokeCh: make(chan struct{}, 1)}
}

func (g *gateway) capacity() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limit - len(g.queue)
}

func (g *gateway) handle(_ context.Context, r Request) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	id := string(r.Data)
	if len(g.queue) >= g.limit {
		g.over++
	}
	g.queue = append(g.queue, id)
	g.seen[id]++
	g.order = append(g.order, id)
	select {
	case g.pokeCh <- struct{}{}:
	default:
	}
	return nil
}

// drain runs the worker until ctx ends: it empties the queue one request
// at a time, and wakes Serve.
func (g *gateway) drain(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.pokeCh:
		case <-time.After(10 * time.Millisecond):
		}
		for {
			g.mu.Lock()
			if len(g.queue) == 0 {
				g.mu.Unlock()
				break
			}
			g.queue = g.queue[1:]
			g.mu.Unlock()
			select {
			case g.wake <- struct{}{}:
			default:
			}
		}
	}
}

func (g *gateway) count(id string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.seen[id]
}

func (g *gateway) total() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.order)
}

// serve runs n.Serve in the background until the test ends, and checks
// that it returns nil when its context ends.
func serve(t *testing.T, n *Node, capacity func() int, wake <-chan struct{}, h func(context.Context, Request) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, capacity, wake, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
}

// TestServeEveryRequestOnce has two gateways with room for 1 and 3
// requests take 50 requests for any gateway and 5 for each: every request
// is handled exactly once, by the right gateway, and no gateway holds more
// than it has room for.
func TestServeEveryRequestOnce(t *testing.T) {
	t.Parallel()
	s := fleettest.Start(t)
	js := admin(t, s.URL())
	ctx, cancel := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	t.Cleanup(func() { cancel(); workers.Wait() })
	gws := []*gateway{newGateway("gw1", 1), newGateway("gw2", 3)}
	for _, g := range gws {
		n := connectedNode(t, testConfig(s, g.name))
		workers.Add(1)
		go func() { defer workers.Done(); g.drain(ctx) }()
		serve(t, n, g.capacity, g.wake, g.handle)
	}
	ids := publishRequests(t, js, "simhook.send", "any", 50)
	own := map[string][]string{
		"gw1": publishRequests(t, js, "simhook.send.gw1", "gw1", 5),
		"gw2": publishRequests(t, js, "simhook.send.gw2", "gw2", 5),
	}
	waitFor(t, "every request handled", func() bool { return gws[0].total()+gws[1].total() >= 60 })
	waitFor(t, "stream empty", func() bool { return streamInfo(t, js, "SIMHOOK_SEND").State.Msgs == 0 })
	for _, id := range ids {
		if got := gws[0].count(id) + gws[1].count(id); got != 1 {
			t.Errorf("request %s handled %d times", id, got)
		}
	}
	for i, g := range gws {
		other := gws[1-i]
		for _, id := range own[g.name] {
			if g.count(id) != 1 || other.count(id) != 0 {
				t.Errorf("request %s handled %d times by %s and %d by %s", id, g.count(id), g.name, other.count(id), other.name)
			}
		}
		g.mu.Lock()
		if g.over != 0 {
			t.Errorf("%s was handed %d requests beyond its room of %d", g.name, g.over, g.limit)
		}
		t.Logf("%s handled %d requests", g.name, len(g.order))
		g.mu.Unlock()
	}
	if t.Failed() {
		return
	}
	if gws[0].total() == 0 || gws[1].total() == 0 {
		t.Logf("one gateway took every shared request")
	}
}

// TestServeOwnFirst checks that a gateway takes the requests addressed to
// it before the shared ones.
func TestServeOwnFirst(t *testing.T) {
	t.Parallel()
	s := fleettest.Start(t)
	js := admin(t, s.URL())
	n := connectedNode(t, testConfig(s, "gw1"))
	publishRequests(t, js, "simhook.send", "any", 3)
	publishRequests(t, js, "simhook.send.gw1", "gw1", 3)
	g := newGateway("gw1", 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() { defer close(done); g.drain(ctx) }()
	serve(t, n, g.capacity, g.wake, g.handle)
	waitFor(t, "six requests handled", func() bool { return g.total() >= 6 })
	g.mu.Lock()
	defer g.mu.Unlock()
	if got := strings.Join(g.order, " "); got != "gw1-0 gw1-1 gw1-2 any-0 any-1 any-2" {
		t.Errorf("handled in the order %s, want the gateway's own first", got)
	}
}

// TestServeTakesOnlyItsRoom has a gateway whose room does not grow look
// several times: it takes what its room allows and no more, the rest stays
// in the stream, and it takes the rest once it has room.
func TestServeTakesOnlyItsRoom(t *testing.T) {
	t.Parallel()
	for _, room := range []int{0, 2} {
		t.Run(fmt.Sprintf("room %d", room), func(t *testing.T) {
			t.Parallel()
			s := fleettest.Start(t)
			js := admin(t, s.URL())
			n := connectedNode(t, testConfig(s, "gw1"))
			publishRequests(t, js, "simhook.send.gw1", "gw1", 3)
			publishRequests(t, js, "simhook.send", "any", 2)
			var mu sync.Mutex
			free, looks, handled := room, 0, 0
			capacity := func() int {
				mu.Lock()
				defer mu.Unlock()
				looks++
				return free
			}
			wake := make(chan struct{}) // unbuffered: a send returns once Serve took it
			serve(t, n, capacity, wake, func(context.Context, Request) error {
				mu.Lock()
				defer mu.Unlock()
				handled++
				free--
				return nil
			})
			waitFor(t, "the room filled", func() bool { mu.Lock(); defer mu.Unlock(); return handled >= room })
			mu.Lock()
			looks = 0
			mu.Unlock()
			for range 3 {
				wake <- struct{}{}
			}
			waitFor(t, "several looks", func() bool { mu.Lock(); defer mu.Unlock(); return looks >= 3 })
			mu.Lock()
			if handled != room {
				t.Errorf("a gateway with room for %d handled %d requests", room, handled)
			}
			mu.Unlock()
			if got := streamInfo(t, js, "SIMHOOK_SEND").State.Msgs; got != uint64(5-room) {
				t.Errorf("the stream holds %d requests, want %d", got, 5-room)
			}
			pending := 0
			for _, c := range []string{"simhook-any", "simhook-gw-gw1"} {
				pending += consumerInfo(t, js, "SIMHOOK_SEND", c).NumAckPending
			}
			if pending != 0 {
				t.Errorf("%d requests wait for an ack", pending)
			}
			mu.Lock()
			free = 10
			mu.Unlock()
			wake <- struct{}{}
			waitFor(t, "every request handled once there is room", func() bool { mu.Lock(); defer mu.Unlock(); return handled == 5 })
		})
	}
}

// TestServeHandlerAnswers checks what each answer of a handler does: an
// error wrapping ErrRetry brings the request back, another error drops it,
// nil acknowledges it.
func TestServeHandlerAnswers(t *testing.T) {
	t.Parallel()
	s := fleettest.Start(t)
	js := admin(t, s.URL())
	cfg := testConfig(s, "gw1")
	cfg.RetryDelay = 100 * time.Millisecond
	n := connectedNode(t, cfg)
	publishRequests(t, js, "simhook.send", "req", 3)
	type delivery struct {
		id             string
		delivered, seq uint64
	}
	var mu sync.Mutex
	var got []delivery
	serve(t, n, func() int { return 1 }, nil, func(_ context.Context, r Request) error {
		mu.Lock()
		defer mu.Unlock()
		id := string(r.Data)
		got = append(got, delivery{id, r.Delivered, r.Seq})
		switch {
		case id == "req-0" && r.Delivered == 1:
			return fmt.Errorf("phones busy: %w", ErrRetry)
		case id == "req-1":
			return errors.New("malformed request")
		}
		return nil
	})
	count := func(id string) (c int) {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range got {
			if d.id == id {
				c++
			}
		}
		return c
	}
	waitFor(t, "req-0 again and req-2", func() bool { return count("req-0") == 2 && count("req-2") == 1 })
	waitFor(t, "stream empty", func() bool { return streamInfo(t, js, "SIMHOOK_SEND").State.Msgs == 0 })
	if info := consumerInfo(t, js, "SIMHOOK_SEND", "simhook-any"); info.NumAckPending != 0 || info.NumPending != 0 {
		t.Errorf("consumer: %d pending ack, %d pending", info.NumAckPending, info.NumPending)
	}
	if c := count("req-1"); c != 1 {
		t.Errorf("the malformed request was handled %d times, want 1", c)
	}
	mu.Lock()
	defer mu.Unlock()
	var req0 []delivery
	for _, d := range got {
		if d.id == "req-0" {
			req0 = append(req0, d)
		}
	}
	if req0[0].delivered != 1 || req0[1].delivered != 2 || req0[0].seq != req0[1].seq || req0[0].seq == 0 {
		t.Errorf("req-0 deliveries %+v, want delivered 1 then 2 with one sequence", req0)
	}
}

// TestServeGatewayDies takes a request on one gateway, which closes before
// its handler returns: another gateway gets it after AckWait.
func TestServeGatewayDies(t *testing.T) {
	t.Parallel()
	s := fleettest.Start(t)
	js := admin(t, s.URL())
	cfg1, cfg2 := testConfig(s, "gw1"), testConfig(s, "gw2")
	cfg1.AckWait, cfg2.AckWait = time.Second, time.Second
	n1 := connectedNode(t, cfg1)
	started, release := make(chan Request, 1), make(chan struct{})
	serve(t, n1, func() int { return 1 }, nil, func(_ context.Context, r Request) error {
		started <- r
		<-release
		return nil
	})
	t.Cleanup(func() { close(release) })
	publishRequests(t, js, "simhook.send", "req", 1)
	var first Request
	select {
	case first = <-started:
	case <-time.After(patience):
		t.Fatal("gw1 never took the request")
	}
	if err := n1.Close(); err != nil {
		t.Fatal(err)
	}
	n2 := connectedNode(t, cfg2)
	second := make(chan Request, 1)
	serve(t, n2, func() int { return 1 }, nil, func(_ context.Context, r Request) error {
		second <- r
		return nil
	})
	select {
	case r := <-second:
		if string(r.Data) != "req-0" || r.Delivered != 2 || r.Seq != first.Seq {
			t.Errorf("gw2 got %s delivered %d seq %d, want req-0 delivered 2 seq %d", r.Data, r.Delivered, r.Seq, first.Seq)
		}
	case <-time.After(patience):
		t.Fatal("gw2 never got the request gw1 left")
	}
	waitFor(t, "stream empty", func() bool { return streamInfo(t, js, "SIMHOOK_SEND").State.Msgs == 0 })
}

// TestServeStops checks Serve's returns: nil when its context ends,
// ErrClosed when the Node closes.
func TestServeStops(t *testing.T) {
	t.Parallel()
	s := fleettest.Start(t)
	n := connectedNode(t, testConfig(s, "gw1"))
	nop := func(context.Context, Request) error { return nil }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, func() int { return 1 }, nil, nop) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after its context ended: %v, want nil", err)
	}
	go func() { done <- n.Serve(context.Background(), func() int { return 1 }, nil, nop) }()
	n.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after Close: %v, want ErrClosed", err)
	}
}
