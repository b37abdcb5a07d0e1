package outbox

import (
	"log/slog"
	"net/http"
	"time"
)

// Options tunes an Outbox. The zero value is usable.
type Options struct {
	// Clock is the dispatcher's time; nil means the system clock.
	Clock Clock
	// Logger gets delivery problems; nil discards.
	Logger *slog.Logger
	// Concurrency bounds the requests in flight across endpoints (default 4).
	Concurrency int
	// HTTPClient sends the requests; nil means a client with sane limits.
	// Each request also gets the endpoint's timeout.
	HTTPClient *http.Client
	// RequireTimeSync holds sending while TimeSynced reports false.
	RequireTimeSync bool
	// TimeSynced, if set, overrides the clock guard with a known answer
	// (tests).
	TimeSynced func() bool
	// ClockState reads the clock guard; nil means a ClockGuard on the real
	// sources (systemd-timesyncd's flag file, then adjtimex).
	ClockState func() ClockState
	// BootClock reads the boot's identity and the time since boot, which
	// re-base events stamped before the clock synchronised; nil means
	// /proc/sys/kernel/random/boot_id and CLOCK_BOOTTIME.
	BootClock func() (boot string, sinceBoot time.Duration, err error)
	// Retention is how long delivered events, and dedupe keys, are kept
	// (default 168h): the initial Delivery.Retention.
	Retention time.Duration
	// DeadRetention is how long dead deliveries are kept (default 720h):
	// the initial Delivery.DeadRetention.
	DeadRetention time.Duration
	// ProbeInterval caps the wait between two probes of an unreachable
	// endpoint, and is how often one that answers with errors is probed
	// (default 30s, with jitter): the initial Delivery.ProbeMax.
	ProbeInterval time.Duration
	// ProbeFirst is the wait before the first probe of an endpoint that
	// became unreachable (default 1s, at most ProbeMax); the next ones
	// double up to ProbeMax.
	ProbeFirst time.Duration
	// MaxBatch bounds how many writes share one transaction (default
	// 1000). Writes that arrive while a transaction commits join the next
	// one; MaxBatchDelay, if set, also waits that long for more company
	// when a group has more than one write (default 0: never wait).
	MaxBatch      int
	MaxBatchDelay time.Duration
	// NoSync skips fsync on commit: for tests and benchmarks that need no
	// durability, never for the daemon.
	NoSync bool
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.HTTPClient == nil {
		o.HTTPClient = NewHTTPClient()
	}
	if o.TimeSynced != nil {
		synced := o.TimeSynced
		o.ClockState = func() ClockState { return ClockState{Known: true, Synced: synced(), Source: "override"} }
	}
	if o.ClockState == nil {
		o.ClockState = ClockGuard{}.State
	}
	if o.BootClock == nil {
		o.BootClock = systemBootClock
	}
	if o.Retention <= 0 {
		o.Retention = 168 * time.Hour
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = 30 * time.Second
	}
	if o.ProbeFirst <= 0 {
		o.ProbeFirst = time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1000
	}
	return o
}

// NewHTTPClient returns the client the dispatcher sends webhooks with when
// Options.HTTPClient is nil: proxies from the environment, bounded idle
// connections and TLS handshakes, and no redirects followed. A 3xx is an
// answer to classify (a client error), never a reason to send the signed
// body and the endpoint's headers to another address.
func NewHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
