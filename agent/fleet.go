package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/fleet"
	"github.com/simhook/simhook/internal/clock"
	"github.com/simhook/simhook/internal/redact"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/store"
	"github.com/simhook/simhook/webhook"
)

// FleetEndpoint is the name of the outbox endpoint that publishes events to
// the fleet's events stream.
const FleetEndpoint = "fleet"

// fleetLink is the agent's side of the fleet: the connection (a
// fleet.Node), the loop that takes send requests from the work queue while
// a phone can send, the loop that keeps the fleet view of the phones, and
// the publisher the outbox's fleet endpoint delivers through. It owns the
// node and its two loops; start, apply and stop are called under
// Agent.applyMu or at start and stop.
type fleetLink struct {
	a     *Agent
	clock clock.Clock
	wake  chan struct{} // a phone may have room: look for requests
	// phonesWake: a phone's status changed; write the fleet view now.
	phonesWake chan struct{}
	// claimWake: a claim failed; settle the open ones again.
	claimWake chan struct{}

	mu     sync.Mutex
	node   *fleet.Node
	cancel context.CancelFunc
	done   chan struct{}
}

// newFleetLink makes agent a's fleet link; it does nothing until apply.
func newFleetLink(a *Agent) *fleetLink {
	return &fleetLink{a: a, clock: clock.Or(a.opts.Clock), wake: make(chan struct{}, 1), phonesWake: make(chan struct{}, 1),
		claimWake: make(chan struct{}, 1)}
}

// FleetConfig is the fleet client's configuration for cfg (for `simhook
// fleet ls`).
func FleetConfig(cfg *config.Config) fleet.Config {
	return fleetConfig(cfg.Fleet, probeInterval(cfg))
}

// fleetConfig maps the configuration's fleet section onto the client's.
func fleetConfig(f config.Fleet, probe time.Duration) fleet.Config {
	c := fleet.Config{
		URLs:      append([]string(nil), f.NATS...),
		Gateway:   f.Gateway,
		CredsFile: f.CredsFile,
		Token:     f.Token,
		TLS:       fleet.TLS{CAFile: f.TLS.CAFile, CertFile: f.TLS.CertFile, KeyFile: f.TLS.KeyFile},
		Send:      fleet.StreamConfig{Name: f.SendStream.Name, Replicas: f.SendStream.Replicas, MaxAge: f.SendStream.MaxAge.Duration},
		Events:    fleet.StreamConfig{Name: f.EventsStream.Name, Replicas: f.EventsStream.Replicas, MaxAge: f.EventsStream.MaxAge.Duration},
		AckWait:   f.AckWait.Duration,
		PhonesTTL: 3 * probe,
	}
	if c.Gateway == "" {
		c.Gateway = hostGateway()
	}
	return c.WithDefaults()
}

// notToken matches what a subject token may not hold.
var notToken = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// hostGateway is the default gateway name: the host name, cleaned up into
// a subject token.
func hostGateway() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "gateway"
	}
	h = strings.Trim(notToken.ReplaceAllString(h, "-"), "-")
	if len(h) > 64 {
		h = h[:64]
	}
	if h == "" {
		return "gateway"
	}
	return h
}

// probeInterval is the shortest probe interval of the configured phones
// (30s without phones): how often the fleet view is refreshed.
func probeInterval(cfg *config.Config) time.Duration {
	d := 30 * time.Second
	for i, p := range cfg.Phones {
		if i == 0 || p.ProbeInterval.Duration < d {
			d = p.ProbeInterval.Duration
		}
	}
	return max(d, time.Second)
}

// apply puts the fleet section of cfg in force: it starts the link, changes
// its connection, or stops it.
func (f *fleetLink) apply(cfg *config.Config) error {
	if !cfg.Fleet.Enabled() {
		f.stop()
		return nil
	}
	conf := fleetConfig(cfg.Fleet, probeInterval(cfg))
	f.mu.Lock()
	node := f.node
	f.mu.Unlock()
	if node != nil {
		if conf.Gateway != node.Gateway() {
			// A renamed gateway serves other subjects and keys: start over.
			f.stop()
		} else {
			if err := node.Reconfigure(conf); err != nil {
				return fmt.Errorf("fleet: %w", err)
			}
			return nil
		}
	}
	node, err := fleet.Start(conf, f.a.log.With("component", "fleet"))
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	f.mu.Lock()
	f.node, f.cancel, f.done = node, cancel, done
	f.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(4)
	go func() {
		defer wg.Done()
		f.watchConnection(ctx, node)
	}()
	go func() {
		defer wg.Done()
		f.settleClaims(ctx, node)
	}()
	go func() {
		defer wg.Done()
		if err := node.Serve(ctx, f.capacity, f.wake, f.handle); err != nil && ctx.Err() == nil {
			f.a.log.Error("fleet: taking send requests stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		f.publishPhones(ctx, node)
	}()
	go func() {
		wg.Wait()
		close(done)
	}()
	f.a.log.Info("fleet: joined", "gateway", conf.Gateway, "nats", strings.Join(redactURLs(conf.URLs), ","))
	return nil
}

// stop ends the loops and closes the connection.
func (f *fleetLink) stop() {
	if f == nil {
		return
	}
	f.mu.Lock()
	node, cancel, done := f.node, f.cancel, f.done
	f.node, f.cancel, f.done = nil, nil, nil
	f.mu.Unlock()
	if node == nil {
		return
	}
	cancel()
	<-done
	if err := node.Close(); err != nil {
		f.a.log.Warn("fleet: closing the connection", "err", err)
	}
}

// watchConnection wakes what waits for the server when the node connects:
// the outbox probes the fleet endpoint at once (its backoff may have grown
// to delivery.probe_max during the outage), open claims settle, requests
// are pulled and the fleet view is written.
func (f *fleetLink) watchConnection(ctx context.Context, node *fleet.Node) {
	was := false
	for {
		changed := node.Changes()
		now := node.Connected()
		if now && !was {
			if out := f.a.Outbox(); out != nil {
				out.ProbeNow(FleetEndpoint)
			}
			f.kick()
			poke(f.claimWake)
			poke(f.phonesWake)
		}
		was = now
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// connected reports whether the link's node is connected and set up.
func (f *fleetLink) connected() bool {
	if f == nil {
		return false
	}
	f.mu.Lock()
	node := f.node
	f.mu.Unlock()
	return node != nil && node.Connected()
}

// kick tells the request loop that a phone may have room.
func (f *fleetLink) kick() {
	if f == nil {
		return
	}
	poke(f.wake)
}

// errNoFleet means the fleet endpoint has no connection to publish through.
var errNoFleet = errors.New("fleet: not joined")

// Publish delivers one event to the events stream: the outbox's fleet
// endpoint calls it with the request its JSON encoder signed.
func (f *fleetLink) Publish(ctx context.Context, msg webhook.Message, req *http.Request) error {
	f.mu.Lock()
	node := f.node
	f.mu.Unlock()
	if node == nil {
		return errNoFleet
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return fmt.Errorf("fleet: reading the event: %w", err)
	}
	h := req.Header.Clone()
	h.Del("User-Agent")
	// The RaspiSMS signature travels in the JSON body; a header repeats it
	// so that a consumer can check either without parsing first.
	var legacy struct {
		Signature string `json:"webhook_signature"`
	}
	if json.Unmarshal(body, &legacy) == nil && legacy.Signature != "" {
		h.Set(LegacySignatureHeader, legacy.Signature)
	}
	return node.Publish(ctx, string(msg.Type), msg.RandomID, body, h)
}

// LegacySignatureHeader carries an event's RaspiSMS signature (the body's
// webhook_signature) on the fleet's events stream.
const LegacySignatureHeader = "Webhook-Legacy-Signature"

// endpoint is the outbox endpoint of the events stream.
func (f *fleetLink) endpoint(c config.Fleet) outbox.Endpoint {
	return outbox.Endpoint{
		Endpoint: webhook.Endpoint{Name: FleetEndpoint, URL: "http://fleet.invalid/events", Format: "json",
			Secrets: []string{c.Secret}},
		Timeout:   10 * time.Second,
		Retry:     outbox.RetryPolicy{Initial: time.Second, MaxInterval: time.Minute},
		Publisher: f,
	}
}

// fleetRequest is a send request as published to the work queue: the JSON
// of POST /v1/sms plus the id its client chose.
type fleetRequest struct {
	ID string `json:"id"`
	SendRequest
}

// maxRequestID bounds a request id's length.
const maxRequestID = 200

// handle commits one request from the work queue to the send queue; the
// node acknowledges it only when this returns nil. A redelivered request
// (the same id) is recognised and not queued again. A request that can
// never be sent is refused for good; one that cannot be committed now is
// left for later.
func (f *fleetLink) handle(ctx context.Context, m fleet.Request) error {
	a := f.a
	var req fleetRequest
	dec := json.NewDecoder(bytes.NewReader(m.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return f.refuse(m, fmt.Errorf("not a send request: %w", err))
	}
	if req.ID == "" || len(req.ID) > maxRequestID {
		return f.refuse(m, fmt.Errorf("the request needs an id of 1 to %d characters", maxRequestID))
	}
	if err := a.validateSend(req.SendRequest); err != nil {
		return f.refuse(m, err)
	}
	if err := a.disk.refuse(); err != nil {
		return fmt.Errorf("%w: %w", fleet.ErrRetry, err)
	}
	// Committed here first, held until it is claimed: a crash from here on
	// leaves it on disk, and the claim decides which gateway sends it.
	rec, existed, err := a.st.AddSendOnce(ctx, store.Send{
		To: req.To, Text: req.Text, Phone: req.Phone, Tag: req.Tag,
		StatusReport: req.StatusReport == nil || *req.StatusReport,
		Created:      a.now(), RequestID: req.ID,
		Unclaimed: true, NotBefore: claimHold,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", fleet.ErrRetry, err)
	}
	if existed {
		a.counter.add("fleet_requests_redelivered", 1)
		a.log.Info("fleet: request already here (redelivered)", "request", req.ID, "send", rec.ID)
		if !rec.Unclaimed {
			return nil
		}
	}
	return f.settleClaim(ctx, rec)
}

// claimHold is the not-before time of a fleet request until its claim
// settles: far enough never to come due.
var claimHold = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

// settleClaim claims fleet request r on the server. If this gateway holds
// it, it joins the send queue; if another gateway does, it is dropped here
// (never sent, no event). When the server cannot say, it stays held and
// the caller tries again.
func (f *fleetLink) settleClaim(ctx context.Context, r store.Send) error {
	a := f.a
	f.mu.Lock()
	node := f.node
	f.mu.Unlock()
	if node == nil {
		return fmt.Errorf("%w: %w", fleet.ErrRetry, errNoFleet)
	}
	holder, err := node.Claim(ctx, r.RequestID)
	if err != nil {
		poke(f.claimWake) // the request stays held here: settle it later
		return fmt.Errorf("%w: %w", fleet.ErrRetry, err)
	}
	if holder != node.Gateway() {
		if err := a.st.DropSend(ctx, r.ID); err != nil {
			return fmt.Errorf("%w: %w", fleet.ErrRetry, err)
		}
		a.counter.add("fleet_requests_elsewhere", 1)
		a.log.Info("fleet: request held by another gateway; not sending it here", "request", r.RequestID, "holder", holder)
		return nil
	}
	r.Unclaimed, r.NotBefore = false, time.Time{}
	if err := a.st.SaveSend(ctx, r); err != nil {
		return fmt.Errorf("%w: %w", fleet.ErrRetry, err)
	}
	a.counter.add("fleet_requests", 1)
	a.counter.add("sends_accepted", 1)
	a.sends.kick()
	return nil
}

// settleClaims settles the claims a crash or an unreachable server left
// open, until ctx ends: at once, then every few seconds while some remain,
// and again whenever a claim fails.
func (f *fleetLink) settleClaims(ctx context.Context, node *fleet.Node) {
	for {
		open, err := f.a.st.Unclaimed()
		if err != nil {
			f.a.log.Error("fleet: reading unclaimed requests", "err", err)
		}
		for _, r := range open {
			if !node.Connected() {
				break
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := f.settleClaim(cctx, r); err != nil && ctx.Err() == nil {
				f.a.log.Warn("fleet: claim not settled yet", "request", r.RequestID, "err", err)
			}
			cancel()
		}
		var next time.Time // none open: wait for a claim that fails
		if len(open) > 0 {
			next = f.clock.Now().Add(claimRetry)
		}
		clock.WaitUntil(f.clock, next, f.claimWake, ctx.Done())
		if ctx.Err() != nil {
			return
		}
	}
}

// claimRetry is how often claims left open are tried again.
const claimRetry = 3 * time.Second

// refuse logs and counts a request that can never be sent.
func (f *fleetLink) refuse(m fleet.Request, err error) error {
	f.a.counter.add("fleet_requests_refused", 1)
	f.a.log.Warn("fleet: send request refused", "subject", m.Subject, "err", err)
	return err
}

// capacity is how many requests the gateway can take now: its phones that
// are up, enabled, free, out of their send gap and under their limits for
// a one-part message, less the requests already in its queue (taken but
// not yet on a phone), so that a gateway never hoards requests another
// could send.
func (f *fleetLink) capacity() int {
	a := f.a
	q := a.sends
	cfg := a.cfg.Load()
	now := q.clock.Now()
	free := 0
	for _, v := range q.views(cfg) {
		if !v.Ready || v.Busy || now.Before(v.GapUntil) {
			continue
		}
		if _, ok := fitLimits(v.Cfg.Limits, v.Parts, 1, now, a.loc.Load()); ok {
			free++
		}
	}
	queued, err := a.st.QueuedCount()
	if err != nil {
		return 0
	}
	return max(free-queued, 0)
}

// FleetPhone is one phone's entry in the fleet view (KV simhook_phones).
type FleetPhone struct {
	Gateway string `json:"gateway"`
	PhoneStatus
	// Queued counts the send requests waiting in the gateway's queue.
	Queued int `json:"queued"`
	// Updated is when the entry was written (RFC 3339).
	Updated string `json:"updated"`
}

// publishPhones writes every phone's state to the fleet view at the probe
// interval, at once when a phone's status changes, and every second while
// the node is not connected yet, until ctx ends.
func (f *fleetLink) publishPhones(ctx context.Context, node *fleet.Node) {
	for {
		wait := probeInterval(f.a.cfg.Load())
		if !f.putPhones(ctx, node) {
			wait = time.Second
		}
		clock.WaitUntil(f.clock, f.clock.Now().Add(wait), f.phonesWake, ctx.Done())
		if ctx.Err() != nil {
			return
		}
	}
}

// phoneChanged tells the fleet view that a phone's status changed.
func (f *fleetLink) phoneChanged() {
	if f == nil {
		return
	}
	poke(f.phonesWake)
}

// putPhones writes one round of the fleet view; it reports false when the
// node is not connected.
func (f *fleetLink) putPhones(ctx context.Context, node *fleet.Node) bool {
	if !node.Connected() {
		return false
	}
	a := f.a
	queued, _ := a.st.QueuedCount()
	now := f.clock.Now().UTC().Format(time.RFC3339)
	for _, p := range a.Phones() {
		v, err := json.Marshal(FleetPhone{Gateway: node.Gateway(), PhoneStatus: p, Queued: queued, Updated: now})
		if err != nil {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = node.PutPhone(pctx, p.ID, v)
		cancel()
		if err != nil && ctx.Err() == nil {
			a.log.Debug("fleet: writing the phone's state", "phone", p.ID, "err", err)
		}
	}
	return true
}

// redactURLs hides credentials in URLs for the log.
func redactURLs(urls []string) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = redact.URL(u)
	}
	return out
}
