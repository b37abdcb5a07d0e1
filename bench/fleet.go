package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/simhook/simhook/fleet"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/receiver"
	"github.com/simhook/simhook/webhook"
)

// FleetOptions sizes the fleet figures.
type FleetOptions struct {
	// Requests are published one every Interval to simhook.send, with
	// three gateways of two simulated phones each serving them.
	Requests int
	Interval time.Duration
	// Events are enqueued in one gateway's outbox and drained into the
	// events stream, and, for the baseline, to a local webhook receiver.
	Events int
}

// DefaultFleet is what `simhook bench --fleet` measures.
func DefaultFleet() FleetOptions {
	return FleetOptions{Requests: 300, Interval: 10 * time.Millisecond, Events: 10000}
}

// FleetFigures are the fleet's measured figures.
type FleetFigures struct {
	// Handover is from a request's publication to its PDU reaching a
	// modem, over three gateways.
	Handover Latencies `json:"handover"`
	// ByGateway counts the requests each gateway sent.
	ByGateway map[string]int `json:"by_gateway"`
	// EventsRate is the events per second one gateway's outbox put into
	// the stream (each acknowledged by the server); WebhookRate the same
	// outbox's drain to a local receiver, in the same run.
	EventsRate  float64 `json:"events_per_s"`
	WebhookRate float64 `json:"webhook_per_s"`
}

// benchFleetSecret signs the bench's events.
const benchFleetSecret = "bench-fleet-secret-0123456789"

// MeasureFleet starts a nats-server and measures the fleet figures.
func MeasureFleet(ctx context.Context, o FleetOptions) (FleetFigures, error) {
	var f FleetFigures
	srv, err := startNATS()
	if err != nil {
		return f, err
	}
	defer srv.stop()
	if f.Handover, f.ByGateway, err = measureHandover(ctx, srv.url(), o); err != nil {
		return f, err
	}
	if f.EventsRate, err = measureEventDrain(ctx, o.Events, srv.url()); err != nil {
		return f, err
	}
	if f.WebhookRate, err = measureEventDrain(ctx, o.Events, ""); err != nil {
		return f, err
	}
	return f, nil
}

// measureHandover runs three gateways and times each request from its
// publication to its PDU at a modem.
func measureHandover(ctx context.Context, url string, o FleetOptions) (Latencies, map[string]int, error) {
	quiet := slog.New(slog.DiscardHandler)
	var labs []*lab.Lab
	defer func() {
		for _, l := range labs {
			_ = l.Close()
		}
	}()
	names := []string{"gw1", "gw2", "gw3"}
	for _, gw := range names {
		l, err := lab.Start(ctx, lab.Options{Phones: 2, Logger: quiet, ExtraYAML: fmt.Sprintf(
			"fleet:\n  nats: %s\n  gateway: %s\n  secret: %s\n", url, gw, benchFleetSecret)})
		if err != nil {
			return Latencies{}, nil, err
		}
		labs = append(labs, l)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		return Latencies{}, nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return Latencies{}, nil, err
	}
	for {
		if _, err := js.Stream(ctx, "SIMHOOK_SEND"); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return Latencies{}, nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	published := make(map[string]time.Time, o.Requests)
	for i := range o.Requests {
		text := fmt.Sprintf("bench fleet request %05d", i)
		data, _ := json.Marshal(map[string]string{"id": fmt.Sprintf("bench-%05d", i), "to": fmt.Sprintf("+336%08d", i), "text": text})
		published[text] = time.Now()
		if _, err := js.Publish(ctx, fleet.SendSubject, data); err != nil {
			return Latencies{}, nil, err
		}
		time.Sleep(o.Interval)
	}
	byGateway := map[string]int{}
	var ds []time.Duration
	for len(ds) < o.Requests {
		ds, byGateway = ds[:0], map[string]int{}
		for i, l := range labs {
			for _, m := range l.Modems {
				for _, p := range m.Sent() {
					if at, ok := published[p.Text]; ok {
						ds = append(ds, p.At.Sub(at))
						byGateway[names[i]]++
					}
				}
			}
		}
		if len(ds) >= o.Requests {
			break
		}
		select {
		case <-ctx.Done():
			return Latencies{}, nil, fmt.Errorf("fleet: %d of %d requests sent: %w", len(ds), o.Requests, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if len(ds) != o.Requests {
		return Latencies{}, nil, fmt.Errorf("fleet: %d transmissions for %d requests", len(ds), o.Requests)
	}
	return summarise(ds), byGateway, nil
}

// measureEventDrain enqueues n events in an outbox and times their drain:
// into the events stream at url, or (url "") to a local webhook receiver.
// Both endpoints use the JSON format and the same concurrency.
func measureEventDrain(ctx context.Context, n int, url string) (float64, error) {
	dir, err := os.MkdirTemp("", "simhook-bench-fleet-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.DiscardHandler)
	o, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Options{Logger: quiet, Concurrency: 8})
	if err != nil {
		return 0, err
	}
	defer o.Close()
	ep := outbox.Endpoint{Endpoint: webhook.Endpoint{Name: "bench", Format: "json", Secrets: []string{benchFleetSecret}}}
	var delivered func() int64
	if url != "" {
		node, err := fleet.Start(fleet.Config{URLs: []string{url}, Gateway: "bench"}, quiet)
		if err != nil {
			return 0, err
		}
		defer node.Close()
		for !node.Connected() {
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
		pub := &benchPublisher{node: node}
		ep.URL, ep.Publisher, delivered = "http://fleet.invalid/", pub, pub.n.Load
	} else {
		rcv := receiver.New(receiver.Options{Secrets: []string{benchFleetSecret}, Logger: quiet, RememberIDs: n + 16})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		ep.URL = "http://" + ln.Addr().String() + "/hook"
		delivered = func() int64 { return rcv.Stats().Accepted }
	}
	if err := o.SetEndpoints([]outbox.Endpoint{ep}); err != nil {
		return 0, err
	}
	for i := range n {
		if err := enqueueOne(ctx, o, i); err != nil {
			return 0, err
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- o.Run(runCtx) }()
	defer func() {
		stop()
		<-done
	}()
	for delivered() < int64(n) {
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("drain: %d of %d delivered: %w", delivered(), n, ctx.Err())
		case err := <-done:
			return 0, fmt.Errorf("dispatcher stopped: %w", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// benchPublisher publishes an outbox's requests into the events stream, as
// the agent's fleet endpoint does, and counts the acknowledged ones.
type benchPublisher struct {
	node *fleet.Node
	n    atomic.Int64
}

func (p *benchPublisher) Publish(ctx context.Context, msg webhook.Message, req *http.Request) error {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return err
	}
	if err := p.node.Publish(ctx, string(msg.Type), msg.RandomID, body, req.Header); err != nil {
		return err
	}
	p.n.Add(1)
	return nil
}

// WriteFleetTable prints the fleet figures.
func WriteFleetTable(w io.Writer, o FleetOptions, f FleetFigures) {
	fmt.Fprintf(w, "fleet, three gateways of two simulated phones, one nats-server (JetStream, file storage), %s\n", machine())
	fmt.Fprintf(w, "  %d requests published to simhook.send one every %v → PDU at a modem:\n", o.Requests, o.Interval)
	fmt.Fprintf(w, "    p50 %s   p99 %s   max %s   (by gateway %d / %d / %d)\n", ms(f.Handover.P50), ms(f.Handover.P99), ms(f.Handover.Max),
		f.ByGateway["gw1"], f.ByGateway["gw2"], f.ByGateway["gw3"])
	fmt.Fprintf(w, "  %d events drained from one outbox (concurrency 8, format json):\n", o.Events)
	fmt.Fprintf(w, "    into SIMHOOK_EVENTS (each PubAck'd)  %8.0f /s\n", f.EventsRate)
	fmt.Fprintf(w, "    to a local webhook receiver          %8.0f /s\n", f.WebhookRate)
	if f.WebhookRate > 0 {
		fmt.Fprintf(w, "    ratio stream / webhook               %8.2f\n", f.EventsRate/f.WebhookRate)
	}
}
