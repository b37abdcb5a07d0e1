package agent

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/webhook"
)

// Apply puts a new, already validated configuration in force while the
// agent runs: the endpoints and every delivery setting (concurrency,
// require_time_sync, retention, probe_max) at once in the outbox, and
// thresholds; phones that were added, removed or changed start, stop or
// restart only their own worker. Settings that need a restart (state directory, API
// socket) are logged and keep their running value.
func (a *Agent) Apply(cfg *config.Config) error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	old := a.cfg.Load()
	if err := cfg.Validate(); err != nil {
		a.ConfigError(err)
		return err
	}
	if cfg.StateDir != old.StateDir || cfg.API != old.API {
		a.log.Warn("state_dir and api changes take effect at the next restart")
		cfg.StateDir, cfg.API = old.StateDir, old.API
	}
	if out := a.Outbox(); out != nil {
		if err := out.SetEndpoints(a.endpoints(cfg)); err != nil {
			a.ConfigError(err)
			return fmt.Errorf("apply endpoints: %w", err)
		}
		out.SetDelivery(a.deliverySettings(cfg))
	}
	a.cfg.Store(cfg)
	a.loc.Store(cfg.Location())
	a.applyPhones(cfg)
	a.counter.add("config_reloads", 1)
	a.log.Info("configuration applied", "phones", len(cfg.Phones), "webhooks", len(cfg.Webhooks))
	a.sends.kick()
	a.balance.kick()
	a.kickPrune()
	if err := a.fleet.apply(cfg); err != nil {
		a.log.Error("fleet: the new fleet section could not be applied", "err", err)
	}
	return nil
}

// deliverySettings maps the configuration's delivery section onto the
// outbox's live settings (Options.ProbeInterval, if set, wins).
func (a *Agent) deliverySettings(cfg *config.Config) outbox.Delivery {
	d := outbox.Delivery{
		Concurrency:     cfg.Delivery.Concurrency,
		RequireTimeSync: cfg.Delivery.RequireTimeSync,
		Retention:       cfg.Delivery.Retention.Duration,
		DeadRetention:   cfg.Delivery.DeadRetention.Duration,
		ProbeMax:        cfg.Delivery.ProbeMax.Duration,
	}
	if a.opts.ProbeInterval > 0 {
		d.ProbeMax = a.opts.ProbeInterval
	}
	return d
}

// ConfigError records a configuration that was refused; the running one
// stays in force.
func (a *Agent) ConfigError(err error) {
	a.counter.add("config_errors", 1)
	a.log.Error("configuration refused; the running configuration stays in force", "err", err)
}

// applyPhones starts, stops and restarts workers for the phones that changed.
// A worker that goes away is first taken out of the send rotation and given
// a bounded time to finish the send it is in, so that a reload never cuts a
// +CMGS short and has the message sent again. The caller holds applyMu.
func (a *Agent) applyPhones(cfg *config.Config) {
	want := make(map[int]config.Phone, len(cfg.Phones))
	for _, p := range cfg.Phones {
		want[p.ID] = p
	}
	a.mu.Lock()
	if a.runCtx == nil {
		a.mu.Unlock()
		return // not running (yet, or any more): Run starts the phones of the config in force
	}
	var leaving []*worker
	for id, w := range a.workers {
		p, keep := want[id]
		if keep && !phoneChanged(w.cfg, p) {
			// The AT trace applies to the running phone.
			w.phone.SetTrace(p.Trace)
			continue
		}
		w.log.Info("stopping phone worker", "reason", map[bool]string{true: "changed", false: "removed"}[keep])
		delete(a.workers, id)
		leaving = append(leaving, w)
	}
	a.mu.Unlock()

	// Each leaving phone gets its grace at the same time, so a reload of
	// several phones waits one grace at most.
	var wg sync.WaitGroup
	for _, w := range leaving {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.retire(a.opts.StopTimeout)
			w.stop()
		}()
	}
	wg.Wait()

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.runCtx == nil {
		return
	}
	for _, p := range cfg.Phones {
		if _, running := a.workers[p.ID]; !running {
			a.startWorkerLocked(p)
		}
	}
}

// Endpoints maps the configured webhooks onto outbox endpoints.
func Endpoints(cfg *config.Config) []outbox.Endpoint {
	eps := make([]outbox.Endpoint, 0, len(cfg.Webhooks))
	for _, w := range cfg.Webhooks {
		types := make([]webhook.Type, len(w.Events))
		for i, e := range w.Events {
			types[i] = webhook.Type(e)
		}
		eps = append(eps, outbox.Endpoint{
			Endpoint: w.Endpoint(),
			Events:   types,
			Phones:   w.Phones,
			Timeout:  w.Timeout.Duration,
			Retry: outbox.RetryPolicy{
				Initial:     w.Retry.Initial.Duration,
				MaxInterval: w.Retry.MaxInterval.Duration,
				MaxAge:      w.Retry.MaxAge.Duration,
			},
		})
	}
	return eps
}

// endpoints is Endpoints with, when a fleet is configured, the endpoint
// that publishes events to its stream.
func (a *Agent) endpoints(cfg *config.Config) []outbox.Endpoint {
	eps := Endpoints(cfg)
	if cfg.Fleet.Enabled() && a.fleet != nil {
		eps = append(eps, a.fleet.endpoint(cfg.Fleet))
	}
	return eps
}

// concatRefSource returns the driver's RefSource for a phone: a counter kept
// in the state file.
func (a *Agent) concatRefSource(phone int) func() (uint16, error) {
	return func() (uint16, error) { return a.st.NextConcatRef(context.Background(), phone) }
}

// PhoneStatus is what the API shows of a phone.
type PhoneStatus struct {
	ID           int    `json:"id"`
	Status       string `json:"status"`
	SendEnabled  bool   `json:"send_enabled"`
	Signal       int    `json:"signal"`
	Registration string `json:"registration"`
	Operator     string `json:"operator,omitempty"`
	Model        string `json:"model,omitempty"`
	IMEI         string `json:"imei,omitempty"`
	ICCID        string `json:"iccid,omitempty"`
	Port         string `json:"port,omitempty"`
	Reconnects   int    `json:"reconnects"`
	LastError    string `json:"last_error,omitempty"`
	Absent       bool   `json:"absent,omitempty"`
	Since        string `json:"since"`
	// Windows is how much of each send limit window the phone used.
	Windows []WindowStatus `json:"windows"`
	// Waiting counts the sends waiting for this phone's limits or send gap.
	Waiting int `json:"waiting"`
	// Balance is the last balance check, when one is configured.
	Balance *BalanceStatus `json:"balance,omitempty"`
}

// WindowStatus is a phone's use of one send limit window.
type WindowStatus struct {
	// Window is minute, hour or day.
	Window string `json:"window"`
	// Max is the configured limit in parts (0: none).
	Max int `json:"max"`
	// Used is the parts handed to the modem in the window.
	Used int `json:"used"`
	// Left is the parts the phone may still send in it (only with a limit).
	Left *int `json:"left,omitempty"`
	// Next is when the window next gives room back (RFC 3339): its oldest
	// part leaves a sliding window, or the day resets.
	Next string `json:"next,omitempty"`
}

// Phones returns every running phone's state, by id.
func (a *Agent) Phones() []PhoneStatus {
	a.mu.Lock()
	ws := make([]*worker, 0, len(a.workers))
	for _, w := range a.workers {
		ws = append(ws, w)
	}
	a.mu.Unlock()
	sort.Slice(ws, func(i, j int) bool { return ws[i].id < ws[j].id })
	disabled := a.disabledPhones()
	waiting := a.sends.waitingByPhone()
	now := a.now()
	out := make([]PhoneStatus, 0, len(ws))
	for _, w := range ws {
		s := w.State()
		out = append(out, PhoneStatus{
			ID: w.id, Status: s.Status, SendEnabled: !disabled[w.id], Signal: s.Signal,
			Registration: s.Registration, Operator: s.Operator, Model: s.Model, IMEI: s.IMEI, ICCID: s.ICCID,
			Port: s.Port, Reconnects: s.Reconnects, LastError: s.LastError, Absent: s.Absent, Since: s.Since.UTC().Format("2006-01-02T15:04:05Z"),
			Windows: a.windowStatus(w.id, now), Waiting: waiting[w.id], Balance: w.balanceStatus(),
		})
	}
	return out
}

// windowStatus reports phone's use of its send limit windows at now.
func (a *Agent) windowStatus(phone int, now time.Time) []WindowStatus {
	c, ok := a.phoneConfig(phone)
	if !ok || a.sends == nil {
		return nil
	}
	uses := windowsAt(c.Limits, a.sends.parts.of(phone), now, a.loc.Load())
	out := make([]WindowStatus, 0, len(uses))
	for _, u := range uses {
		ws := WindowStatus{Window: u.Window, Max: u.Max, Used: u.Used}
		if u.Max > 0 {
			left := max(u.Max-u.Used, 0)
			ws.Left = &left
		}
		if !u.Next.IsZero() {
			ws.Next = u.Next.UTC().Format(time.RFC3339)
		}
		out = append(out, ws)
	}
	return out
}
