package fleet_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/fleet"
	"github.com/simhook/simhook/fleet/fleettest"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/store"
	"github.com/simhook/simhook/webhook"
)

// fleetSecret signs the gateways' events in these tests.
const fleetSecret = "fleet-test-secret"

// fleetYAML is a gateway's fleet section.
func fleetYAML(url, gateway string) string {
	return fmt.Sprintf("fleet:\n  nats: %s\n  gateway: %s\n  secret: %s\n  ack_wait: 3s\n", url, gateway, fleetSecret)
}

// startGateway starts a lab of two simulated phones joined to the fleet as
// gateway.
func startGateway(t *testing.T, url, gateway string) *lab.Lab {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{Dir: t.TempDir(), Phones: 2, ExtraYAML: fleetYAML(url, gateway),
		Agent: fastAgent()})
	if err != nil {
		t.Fatalf("%s: %v", gateway, err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("%s: closing: %v", gateway, err)
		}
	})
	return l
}

// sendEvents reads the send_sms events until want requests have one, and
// returns how many each request (by tag) has.
func sendEvents(t *testing.T, ctx context.Context, c *fleettest.Client, want int) map[string]int {
	t.Helper()
	return c.Events(t, ctx, "SIMHOOK_EVENTS", "simhook.events.*.send_sms", fleetSecret, want, fleettest.SendTag)
}

// TestThreeGatewaysShareTheQueue: three gateways, two simulated phones
// each, join one nats-server. A client publishes 300 requests to
// simhook.send; each is transmitted by exactly one modem exactly once, and
// yields one signed send_sms in SIMHOOK_EVENTS; the fleet view lists the
// six phones.
func TestThreeGatewaysShareTheQueue(t *testing.T) {
	t.Parallel()
	srv := fleettest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var labs []*lab.Lab
	for _, gw := range []string{"gw1", "gw2", "gw3"} {
		labs = append(labs, startGateway(t, srv.URL(), gw))
	}
	c := fleettest.NewClient(t, srv.URL())
	c.WaitStream(t, ctx, "SIMHOOK_SEND")
	const n = 300
	t0 := time.Now()
	c.Publish(t, ctx, fleet.SendSubject, 0, n)
	published := time.Since(t0)
	tags := sendEvents(t, ctx, c, n)
	t.Logf("%d requests published in %v; every send_sms read after %v", n, published, time.Since(t0))
	sent := lab.Transmitted(labs...)
	for i := range n {
		id := fleettest.RequestID(i)
		if tags[id] != 1 {
			t.Errorf("%s: %d send_sms events, want 1", id, tags[id])
		}
		if sent[fleettest.RequestText(i)] != 1 {
			t.Errorf("%s: transmitted %d times, want once", id, sent[fleettest.RequestText(i)])
		}
	}
	perGateway := make([]int, len(labs))
	for i, l := range labs {
		perGateway[i] = l.Count(webhook.SendSMS)
	}
	t.Logf("send_sms per gateway: %v", perGateway)
	var entries []fleet.PhoneEntry
	for len(entries) < 6 && ctx.Err() == nil {
		var err error
		if entries, err = fleet.Phones(ctx, fleet.Config{URLs: []string{srv.URL()}}.WithDefaults()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[fmt.Sprintf("%s.%d", e.Gateway, e.Phone)] = true
	}
	for _, want := range []string{"gw1.1", "gw1.2", "gw2.1", "gw2.2", "gw3.1", "gw3.2"} {
		if !seen[want] {
			t.Errorf("the fleet view lacks %s (has %v)", want, seen)
		}
	}
}

// TestGatewaySubjectGoesToItsGateway: a request on simhook.send.gw2 is sent
// by gw2 only.
func TestGatewaySubjectGoesToItsGateway(t *testing.T) {
	t.Parallel()
	srv := fleettest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gw1 := startGateway(t, srv.URL(), "gw1")
	gw2 := startGateway(t, srv.URL(), "gw2")
	c := fleettest.NewClient(t, srv.URL())
	c.WaitStream(t, ctx, "SIMHOOK_SEND")
	c.Publish(t, ctx, fleet.SendSubject+".gw2", 0, 10)
	sendEvents(t, ctx, c, 10)
	if n := len(lab.Transmitted(gw1)); n != 0 {
		t.Errorf("gw1 transmitted %d requests meant for gw2", n)
	}
	if n := len(lab.Transmitted(gw2)); n != 10 {
		t.Errorf("gw2 transmitted %d of its 10 requests", n)
	}
}

// fastAgent shortens the driver's timers, as the agent's own tests do.
func fastAgent() agent.Options {
	return agent.Options{StopTimeout: 3 * time.Second, Modem: lab.FastModem}
}

// seedUnclaimed writes into a stopped gateway's state file a fleet request
// as a crash between its commit and its claim leaves it.
func seedUnclaimed(t *testing.T, l *lab.Lab, id, text string) {
	t.Helper()
	out, err := outbox.Open(filepath.Join(l.Dir, "state", agent.OutboxFile), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	st, err := store.Open(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = st.AddSendOnce(context.Background(), store.Send{To: "+33612345678", Text: text, Tag: id, StatusReport: true,
		Created: time.Now(), RequestID: id, Unclaimed: true, NotBefore: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCrashBetweenCommitAndAck: gw1 committed two requests and died before
// acknowledging them. One was redelivered to gw2, which claimed and sent
// it; the other nobody took. When gw1 starts again it drops the first
// (never transmitted here) and claims and sends the second: each is sent
// once, by one gateway.
func TestCrashBetweenCommitAndAck(t *testing.T) {
	t.Parallel()
	srv := fleettest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gw2 := startGateway(t, srv.URL(), "gw2")
	c := fleettest.NewClient(t, srv.URL())
	c.WaitStream(t, ctx, "SIMHOOK_SEND")
	c.Publish(t, ctx, fleet.SendSubject, 0, 1) // req-0000, taken by gw2
	sendEvents(t, ctx, c, 1)

	l, err := lab.Start(ctx, lab.Options{Dir: t.TempDir(), Phones: 1, ExtraYAML: fleetYAML(srv.URL(), "gw1"),
		Agent: fastAgent(), Stopped: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	seedUnclaimed(t, l, "req-0000", "fleet request req-0000")
	seedUnclaimed(t, l, "req-0001", "fleet request req-0001")
	if err := l.StartAgent(ctx); err != nil {
		t.Fatal(err)
	}
	tags := sendEvents(t, ctx, c, 2)
	if tags["req-0000"] != 1 || tags["req-0001"] != 1 {
		t.Errorf("send_sms events per request: %v, want one each", tags)
	}
	if n := lab.Transmitted(gw2)["fleet request req-0000"]; n != 1 {
		t.Errorf("gw2 transmitted req-0000 %d times, want once", n)
	}
	gw1 := lab.Transmitted(l)
	if gw1["fleet request req-0000"] != 0 || gw1["fleet request req-0001"] != 1 {
		t.Errorf("gw1 transmitted %v; want req-0001 once and never req-0000", gw1)
	}
	a := l.Agent()
	if a.Counter("fleet_requests_elsewhere") != 1 || a.Counter("fleet_requests") != 1 {
		t.Errorf("gw1 counters: elsewhere %d, claimed %d; want 1 and 1", a.Counter("fleet_requests_elsewhere"), a.Counter("fleet_requests"))
	}
}

// TestFleetJoinsAndLeavesOnReload: a gateway without a fleet section joins
// the fleet when one is added to its configuration, takes requests and
// publishes events; when the section goes again it takes no more.
func TestFleetJoinsAndLeavesOnReload(t *testing.T) {
	t.Parallel()
	srv := fleettest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{Dir: t.TempDir(), Phones: 1, Agent: fastAgent()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	a := l.Agent()
	apply := func(yaml string) {
		t.Helper()
		cfg, err := config.Parse([]byte(yaml), l.ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Apply(cfg); err != nil {
			t.Fatal(err)
		}
	}
	apply(l.ConfigYAML() + fleetYAML(srv.URL(), "late"))
	c := fleettest.NewClient(t, srv.URL())
	c.WaitStream(t, ctx, "SIMHOOK_SEND")
	c.Publish(t, ctx, fleet.SendSubject, 0, 5)
	if tags := sendEvents(t, ctx, c, 5); len(tags) != 5 {
		t.Fatalf("send_sms events %v", tags)
	}
	if m := metrics(t, l); !strings.Contains(m, "simhook_fleet_connected 1\n") {
		t.Errorf("/metrics lacks simhook_fleet_connected 1:\n%s", m)
	}
	apply(l.ConfigYAML())
	if m := metrics(t, l); strings.Contains(m, "simhook_fleet_connected") {
		t.Error("/metrics still shows simhook_fleet_connected without a fleet section")
	}
	c.Publish(t, ctx, fleet.SendSubject, 5, 6)
	time.Sleep(2 * time.Second) // room for a wrong take to show
	if n := len(lab.Transmitted(l)); n != 5 {
		t.Errorf("the gateway transmitted %d requests, want the 5 from before it left", n)
	}
	s, err := c.JS.Stream(ctx, "SIMHOOK_SEND")
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Errorf("the stream holds %v requests (%v), want the one published after the gateway left", info.State.Msgs, err)
	}
}

// TestGoExample builds examples/fleet/go and runs it against a gateway: it
// publishes a request and finds its signed send_sms.
func TestGoExample(t *testing.T) {
	t.Parallel()
	srv := fleettest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	startGateway(t, srv.URL(), "gw1")
	bin := filepath.Join(t.TempDir(), "fleet-example")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../examples/fleet/go").CombinedOutput(); err != nil {
		t.Fatalf("building the example: %v\n%s", err, out)
	}
	fleettest.NewClient(t, srv.URL()).WaitStream(t, ctx, "SIMHOOK_EVENTS")
	out, err := exec.CommandContext(ctx, bin, "-nats", srv.URL(), "-secret", fleetSecret, "-to", "+33612345678", "-text", "from the Go example", "-wait", "60s").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "sent by phone") {
		t.Errorf("the example: %v\n%s", err, out)
	}
}

// TestPythonExampleCompiles checks the nats-py example's syntax (nats-py
// itself is not installed here).
func TestPythonExampleCompiles(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("SIMHOOK_REQUIRE_RECEIVERS") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	out, err := exec.Command(py, "-c", `import ast, sys; ast.parse(open(sys.argv[1]).read())`, "../examples/fleet/python/fleet.py").CombinedOutput()
	if err != nil {
		t.Errorf("fleet.py: %v\n%s", err, out)
	}
}

// metrics reads the lab agent's /metrics over its API socket.
func metrics(t *testing.T, l *lab.Lab) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", l.SocketPath())
		},
	}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://simhook/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
