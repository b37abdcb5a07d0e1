package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/simhook/simhook/fleet/fleettest"
)

// testTiming shortens a Node's delays so that tests need not wait on them.
var testTiming = timing{
	reconnectWait: 50 * time.Millisecond,
	setupRetry:    100 * time.Millisecond,
	pollEvery:     200 * time.Millisecond,
	idleWait:      300 * time.Millisecond,
	setupTimeout:  10 * time.Second,
	ackTimeout:    10 * time.Second,
}

// patience bounds every wait of these tests; it is no assertion on speed.
const patience = 60 * time.Second

func testLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

// startNode starts a Node with the test timing; it is closed at the end of
// the test.
func startNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	n, err := start(cfg, testLog(t), testTiming)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// connectedNode starts a Node and waits until it is set up.
func connectedNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	n := startNode(t, cfg)
	waitFor(t, "node "+cfg.Gateway+" connected", n.Connected)
	return n
}

// waitFor polls cond until it holds, failing the test after patience.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// admin connects to url as a test's own JetStream client.
func admin(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("admin connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

func streamInfo(t testing.TB, js jetstream.JetStream, name string) *jetstream.StreamInfo {
	t.Helper()
	s, err := js.Stream(ctxT(t), name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(ctxT(t))
	if err != nil {
		t.Fatalf("stream %s info: %v", name, err)
	}
	return info
}

func consumerInfo(t testing.TB, js jetstream.JetStream, stream, name string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := js.Consumer(ctxT(t), stream, name)
	if err != nil {
		t.Fatalf("consumer %s: %v", name, err)
	}
	info, err := c.Info(ctxT(t))
	if err != nil {
		t.Fatalf("consumer %s info: %v", name, err)
	}
	return info
}

// publishRequests publishes n requests on subject, with bodies prefix-0 ...
func publishRequests(t testing.TB, js jetstream.JetStream, subject, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i)
		if _, err := js.Publish(ctxT(t), subject, []byte(ids[i])); err != nil {
			t.Fatalf("publish %s: %v", subject, err)
		}
	}
	return ids
}

func testConfig(s *fleettest.Server, gateway string) Config {
	return Config{URLs: []string{s.URL()}, Gateway: gateway}
}
