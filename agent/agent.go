package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/internal/clock"
	"github.com/simhook/simhook/internal/netwatch"
	"github.com/simhook/simhook/modem"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/store"
)

// OutboxFile is the name of the bbolt file inside the state directory.
const OutboxFile = "outbox.db"

// Options tunes an Agent beyond its configuration file. The zero value is
// what the daemon uses; tests shorten intervals and inject clocks.
type Options struct {
	Logger     *slog.Logger
	Notifier   *Notifier
	HTTPClient *http.Client
	Clock      outbox.Clock
	// Modem, when set, adjusts each phone's driver configuration before the
	// phone starts (tests shorten probe and sweep intervals).
	Modem func(*modem.Config)
	// StopTimeout bounds the graceful stop (default 10s).
	StopTimeout time.Duration
	// ProbeInterval, if set, overrides delivery.probe_max, the cap of the
	// outbox's probe backoff (tests with an injected clock).
	ProbeInterval time.Duration
	// ClockState overrides the clock guard (tests); nil means the real one.
	ClockState func() outbox.ClockState
	// CheckOutbox checks outbox.db before it is opened; nil means the
	// in-process guarded check (outbox.CheckFile). The daemon runs the
	// check in a child process (outbox.ChildChecker).
	CheckOutbox outbox.Checker
	// API bounds the local API's connections; zero fields take the
	// defaults (tests shorten them).
	API APILimits
	// DiskSpace overrides how the disk guard reads the state directory's
	// free and total bytes (tests); nil means statfs.
	DiskSpace func(dir string) (free, total uint64, err error)
}

// Agent is the running daemon.
type Agent struct {
	log  *slog.Logger
	opts Options

	cfg atomic.Pointer[config.Config]
	loc atomic.Pointer[time.Location]

	out     *outbox.Outbox
	st      *store.Store
	sends   *sendQueue
	balance *balanceChecker
	fleet   *fleetLink
	disk    *diskGuard
	counter *counters
	// pruneKick makes the retention loop look again (a reload, a new
	// malformed PDU).
	pruneKick chan struct{}
	// reliabilityKick tells the reliability loop a send finished.
	reliabilityKick chan struct{}

	reportMu  sync.Mutex  // serialises delivery-report matching
	sendsOpen map[int]int // sends in progress per phone; guarded by reportMu

	applyMu sync.Mutex // serialises reloads with each other and with the stop

	mu      sync.Mutex // guards workers and runCtx
	workers map[int]*worker
	runCtx  context.Context
	wg      sync.WaitGroup // owns every worker goroutine

	ready chan struct{}
}

// New checks cfg and prepares an agent. Nothing is opened until Run.
func New(cfg *config.Config, opts Options) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 10 * time.Second
	}
	a := &Agent{
		log:       opts.Logger,
		opts:      opts,
		counter:   newCounters(),
		workers:   make(map[int]*worker),
		sendsOpen: make(map[int]int),
		ready:     make(chan struct{}),
		pruneKick: make(chan struct{}, 1),

		reliabilityKick: make(chan struct{}, 1),
	}
	a.cfg.Store(cfg)
	a.loc.Store(cfg.Location())
	return a, nil
}

// Config returns the configuration in force.
func (a *Agent) Config() *config.Config { return a.cfg.Load() }

// Outbox returns the agent's outbox once Run has opened it (nil before).
func (a *Agent) Outbox() *outbox.Outbox {
	select {
	case <-a.ready:
		return a.out
	default:
		return nil
	}
}

// Ready is closed once the outbox is open and the phones are started.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Run opens the outbox, starts the dispatcher, the phones, the sender, the
// reliability checker and the API, tells systemd it is ready, and serves until
// ctx ends. It then stops taking work, lets in-flight commits and requests
// finish within Options.StopTimeout and closes the outbox.
func (a *Agent) Run(ctx context.Context) error {
	cfg := a.cfg.Load()
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("agent: state directory: %w", err)
	}
	out, damaged, err := outbox.OpenChecked(ctx, filepath.Join(cfg.StateDir, OutboxFile), a.outboxOptions(cfg), a.opts.CheckOutbox)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if damaged != nil {
		a.counter.add("outbox_damaged", 1)
	}
	defer func() {
		if err := out.Close(); err != nil {
			a.log.Error("closing outbox", "err", err)
		}
	}()
	a.out = out
	a.fleet = newFleetLink(a)
	if err := out.SetEndpoints(a.endpoints(cfg)); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if a.st, err = store.Open(ctx, out); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a.disk = a.newDiskGuard(cfg.StateDir)
	a.disk.check(true)
	a.sends = newSendQueue(a)
	usage, err := a.st.Usage(a.now().Add(-store.UsageKept))
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a.sends.parts = newLedger(usage)
	a.balance = newBalanceChecker(a)
	if err := a.sends.recover(ctx); err != nil {
		return fmt.Errorf("agent: %w", err)
	}

	// Background parts share one context; the phones have their own so a
	// stop can let the outbox outlive them and flush their last events, and
	// the sender hear the modem's answer to a send in progress first.
	bgCtx, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	var bg sync.WaitGroup
	goOwned := func(name string, fn func(context.Context) error) {
		bg.Add(1)
		go func() {
			defer bg.Done()
			if err := fn(bgCtx); err != nil && !errors.Is(err, context.Canceled) {
				a.log.Error("component stopped", "component", name, "err", err)
			}
		}()
	}
	goOwned("outbox", out.Run)
	goOwned("netwatch", func(ctx context.Context) error { return a.watchNetwork(ctx, out) })

	phonesCtx, stopPhones := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPhones()
	a.mu.Lock()
	a.runCtx = phonesCtx
	for _, p := range cfg.Phones {
		a.startWorkerLocked(p)
	}
	a.mu.Unlock()

	goOwned("sender", a.sends.run)
	goOwned("balance", a.balance.run)
	if err := a.fleet.apply(cfg); err != nil {
		a.log.Error("fleet: not joined", "err", err)
	}
	defer a.fleet.stop()
	goOwned("reliability", a.runReliability)
	goOwned("retention", a.runRetention)
	api, err := a.listenAPI(cfg)
	if err != nil {
		a.stopPhones(stopPhones)
		stopBG()
		bg.Wait()
		return fmt.Errorf("agent: %w", err)
	}
	goOwned("api", api.serve)

	close(a.ready)
	n := a.opts.Notifier
	_ = n.Notify("READY=1\nSTATUS=running")
	goOwned("watchdog", func(ctx context.Context) error {
		n.RunWatchdog(ctx, a.healthy)
		return nil
	})
	a.log.Info("simhook agent running", "phones", len(cfg.Phones), "webhooks", len(cfg.Webhooks), "state_dir", cfg.StateDir)

	<-ctx.Done()
	_ = n.Notify("STOPPING=1")
	a.log.Info("stopping")
	a.stopPhones(stopPhones)
	// Give in-flight deliveries a bounded time, then stop everything else.
	timer := time.AfterFunc(a.opts.StopTimeout, stopBG)
	api.shutdown(a.opts.StopTimeout)
	stopBG()
	bg.Wait()
	timer.Stop()
	a.log.Info("stopped")
	return nil
}

// stopPhones stops the phones in an order that loses nothing and sends
// nothing twice: no reload may start a worker any more, the sender hands out
// no new request and gets a bounded time to hear the modem's answer to the
// ones in progress, and only then are the phones stopped. Each worker
// finishes its handler call (commit) before it returns.
func (a *Agent) stopPhones(cancel context.CancelFunc) {
	a.applyMu.Lock()
	a.mu.Lock()
	a.runCtx = nil
	a.mu.Unlock()
	a.applyMu.Unlock()
	a.sends.stop(a.opts.StopTimeout)
	cancel()
	a.wg.Wait()
}

// healthy reports whether the agent's loops are alive enough to ping the
// systemd watchdog: the outbox answers a read.
func (a *Agent) healthy() bool {
	_, err := a.out.Stats()
	return err == nil
}

// outboxOptions maps the configuration onto the outbox.
func (a *Agent) outboxOptions(cfg *config.Config) outbox.Options {
	d := a.deliverySettings(cfg)
	return outbox.Options{
		Clock:           a.opts.Clock,
		Logger:          a.log.With("component", "outbox"),
		Concurrency:     d.Concurrency,
		HTTPClient:      a.opts.HTTPClient,
		RequireTimeSync: d.RequireTimeSync,
		Retention:       d.Retention,
		DeadRetention:   d.DeadRetention,
		ProbeInterval:   d.ProbeMax,
		ClockState:      a.opts.ClockState,
	}
}

// watchNetwork tells the outbox of the host's network changes until ctx
// ends. Without a NETLINK_ROUTE socket (a sandbox that forbids it) the
// probes keep their backoff alone.
func (a *Agent) watchNetwork(ctx context.Context, out *outbox.Outbox) error {
	l, err := netwatch.Listen()
	if err != nil {
		a.log.Warn("network changes not watched; unreachable endpoints are found back by their probes alone", "err", err)
		return nil
	}
	return l.Run(ctx, out.NetworkChanged)
}

// newDiskGuard makes the guard of the state directory dir.
func (a *Agent) newDiskGuard(dir string) *diskGuard {
	space := diskSpace(statfs)
	if a.opts.DiskSpace != nil {
		space = a.opts.DiskSpace
	}
	return &diskGuard{dir: dir, space: space, clock: clock.Or(a.opts.Clock), log: a.log.With("component", "disk-guard"),
		cfg: func() config.Storage { return a.cfg.Load().Storage },
		onLow: func(low bool) {
			if low {
				a.counter.add("disk_low", 1)
			}
		}}
}

// now is the agent's clock.
func (a *Agent) now() time.Time {
	if a.opts.Clock != nil {
		return a.opts.Clock.Now()
	}
	return time.Now()
}
