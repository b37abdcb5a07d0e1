//go:build faults

package faults

import (
	"fmt"
	"testing"
	"time"

	"github.com/simhook/simhook/fleet"
	"github.com/simhook/simhook/fleet/fleettest"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/webhook"
)

// fleetSecret signs the fleet's events in these scenarios.
const fleetSecret = "fleet-fault-secret"

// fleetLab is a gateway of two simulated phones joined to the fleet at url.
func fleetLab(t *testing.T, url, gateway string, stopped bool) *lab.Lab {
	t.Helper()
	return newLab(t, lab.Options{Phones: 2, Stopped: stopped, ExtraYAML: fmt.Sprintf(
		"fleet:\n  nats: %s\n  gateway: %s\n  secret: %s\n  ack_wait: 3s\n", url, gateway, fleetSecret)})
}

// TestFleetGatewayKilledAndServerRestarted: three gateways share 300
// requests. gw2 runs as its own process; it is SIGKILLed once 100 requests
// were sent, mid-traffic, and started again 10 s later; then nats-server
// restarts once. Every request is transmitted by exactly one modem exactly
// once and yields exactly one send_sms in SIMHOOK_EVENTS.
func TestFleetGatewayKilledAndServerRestarted(t *testing.T) {
	t.Parallel()
	srv := fleettest.Start(t)
	ctx := bounded(t, 4*time.Minute)
	gw1 := fleetLab(t, srv.URL(), "gw1", false)
	gw2 := fleetLab(t, srv.URL(), "gw2", true)
	gw3 := fleetLab(t, srv.URL(), "gw3", false)
	p, err := gw2.StartProcess(ctx, binary)
	if err != nil {
		t.Fatal(err)
	}
	c := fleettest.NewClient(t, srv.URL())
	c.WaitStream(t, ctx, "SIMHOOK_SEND")
	const n = 300
	c.Publish(t, ctx, fleet.SendSubject, 0, 200)
	for len(lab.Transmitted(gw1, gw2, gw3)) < 100 {
		if ctx.Err() != nil {
			t.Fatal("100 requests were never sent")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("gw2 killed after %d requests went out (%d by gw2)", len(lab.Transmitted(gw1, gw2, gw3)), len(lab.Transmitted(gw2)))
	time.Sleep(10 * time.Second)
	if p, err = gw2.StartProcess(ctx, binary); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Kill() }()
	srv.Restart()
	t.Log("nats-server restarted")
	c.Publish(t, ctx, fleet.SendSubject, 200, n)
	tags := c.Events(t, ctx, "SIMHOOK_EVENTS", "simhook.events.*.send_sms", fleetSecret, n, fleettest.SendTag)
	time.Sleep(time.Second) // room for a wrong extra transmission to show
	sent := lab.Transmitted(gw1, gw2, gw3)
	lost, twice := 0, 0
	for i := range n {
		switch sent[fleettest.RequestText(i)] {
		case 0:
			lost++
		case 1:
		default:
			twice++
		}
		if tags[fleettest.RequestID(i)] != 1 {
			t.Errorf("%s: %d send_sms events, want 1", fleettest.RequestID(i), tags[fleettest.RequestID(i)])
		}
	}
	t.Logf("%d requests: %d lost, %d sent twice; by gateway %d/%d/%d", n, lost, twice,
		len(lab.Transmitted(gw1)), len(lab.Transmitted(gw2)), len(lab.Transmitted(gw3)))
	if lost != 0 || twice != 0 {
		t.Errorf("%d lost and %d sent twice, want none", lost, twice)
	}
}

// TestFleetEventsWaitForTheServer: 200 SMS arrive on the six phones of
// three gateways while nats-server is down for 30 s. Once it is back, a
// consumer of SIMHOOK_EVENTS sees each exactly once.
func TestFleetEventsWaitForTheServer(t *testing.T) {
	t.Parallel()
	srv := fleettest.Start(t)
	ctx := bounded(t, 4*time.Minute)
	labs := []*lab.Lab{fleetLab(t, srv.URL(), "gw1", false), fleetLab(t, srv.URL(), "gw2", false), fleetLab(t, srv.URL(), "gw3", false)}
	c := fleettest.NewClient(t, srv.URL())
	c.WaitStream(t, ctx, "SIMHOOK_EVENTS")
	srv.Stop()
	down := time.Now()
	const n = 200
	for i := range n {
		l := labs[i%3]
		if _, err := l.Modems[i/3%2].InjectSMS(modemsim.SMS{From: "+33612345678", Text: fmt.Sprintf("while the server is down %03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// The webhooks go on meanwhile: every SMS is committed and delivered there.
	total := func() int {
		s := 0
		for _, l := range labs {
			s += l.Count(webhook.ReceiveSMS)
		}
		return s
	}
	for total() < n && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if total() < n {
		t.Fatalf("%d of %d SMS reached the webhooks while the server was down", total(), n)
	}
	time.Sleep(time.Until(down.Add(30 * time.Second)))
	srv.Restart()
	back := time.Now()
	texts := c.Events(t, ctx, "SIMHOOK_EVENTS", "simhook.events.*.receive_sms", fleetSecret, n, fleettest.ReceivedText)
	t.Logf("the %d events were in the stream %v after the server came back", n, time.Since(back).Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	again := c.Events(t, ctx, "SIMHOOK_EVENTS", "simhook.events.*.receive_sms", fleetSecret, n, fleettest.ReceivedText)
	for i := range n {
		text := fmt.Sprintf("while the server is down %03d", i)
		if texts[text] != 1 || again[text] != 1 {
			t.Errorf("%q: %d events in the stream (%d on a second read), want 1", text, texts[text], again[text])
		}
	}
}
