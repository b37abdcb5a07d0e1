package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/modem"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/receiver"
)

// Options describes the installation a lab builds. The zero value is one
// generic modem, a form-format endpoint and a fresh temporary directory.
type Options struct {
	// Dir is where the lab keeps its configuration, state and device links.
	// Empty means a new temporary directory, removed by Close unless Keep.
	Dir  string
	Keep bool
	// Phones is how many simulated modems to plug in (default 1).
	Phones int
	// Profile is the simulated modems' vendor profile.
	Profile modemsim.Profile
	// ReplyDelay is the modems' delay before each answer (0: instant).
	ReplyDelay time.Duration
	// ReenumerateDelay is how long a modem's port stays away after
	// AT+CFUN=1,1 (modemsim's default when 0).
	ReenumerateDelay time.Duration
	// Capacity is the SIM storage of each modem (default 50 slots).
	Capacity int
	// Secret signs the webhooks (default: random).
	Secret string
	// Format is the endpoint's format: form (default), json or template.
	Format string
	// Method is the endpoint's method: post (default) or get.
	Method string
	// Endpoints are webhook endpoints besides the lab's own receiver.
	Endpoints []Endpoint
	// ExtraYAML is appended to the generated configuration file, e.g. a
	// reliability section.
	ExtraYAML string
	// PhoneYAML is added to every phone's entry (indented by the lab).
	PhoneYAML string
	// ReceiverOut, if set, gets each verdict printed for a person.
	ReceiverOut io.Writer
	// ReceiverJSONL, if set, gets each verdict as a JSON line.
	ReceiverJSONL io.Writer
	// ReceiverSecrets are the secrets the receiver accepts (default: the
	// endpoint's Secret; an empty entry stands for it); a rotation test
	// gives it the old and the new one.
	ReceiverSecrets []string
	// ReceiverNow is the receiver's clock (default time.Now); a test that
	// injects the agent's clock gives the receiver the same one.
	ReceiverNow func() time.Time
	// OnEvent, if set, sees every verdict of the receiver before the lab
	// records it, so that a wait that returns (WaitEvents, WaitFor) finds
	// the hook's effects complete (benchmarks time arrivals with it).
	OnEvent func(receiver.Verdict)
	// OnURC, if set, sees every unsolicited line a modem writes, with the
	// phone id (benchmarks time +CMTI with it).
	OnURC func(phone int, line string, at time.Time)
	// Agent tunes the in-process agent (logger, clocks, modem intervals).
	Agent agent.Options
	// Logger is used for the lab's own messages and, unless Agent.Logger is
	// set, for the agent's.
	Logger *slog.Logger
	// Stopped leaves the agent stopped after Start; call StartAgent.
	Stopped bool
}

// Endpoint is an extra webhook endpoint in the lab's configuration.
type Endpoint struct {
	Name, URL, Secret string
	Format, Method    string   // default form, post
	Events            []string // default all
	Phones            []int    // default all
}

// Lab is a running installation: modems, receiver, configuration and agent.
type Lab struct {
	// Dir is the lab's directory; ConfigPath its configuration file.
	Dir, ConfigPath string
	// Modems are the simulated modems, phone id i+1 on Modems[i].
	Modems []*modemsim.Modem
	// Receiver is the verifying receiver; ReceiverURL its endpoint.
	Receiver    *receiver.Receiver
	ReceiverURL string
	// Secret is the endpoint's secret.
	Secret string

	opts     Options
	log      *slog.Logger
	tempDir  bool
	srv      *http.Server
	srvDone  chan struct{}
	events   *eventLog
	gate     *gate
	agentMu  sync.Mutex
	agent    *agent.Agent
	stop     context.CancelFunc
	agentErr chan error
}

// Start builds the lab and, unless opts.Stopped, starts the agent and waits
// until it is ready.
func Start(ctx context.Context, opts Options) (l *Lab, err error) {
	if opts.Phones <= 0 {
		opts.Phones = 1
	}
	if opts.Capacity <= 0 {
		opts.Capacity = 50
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Agent.Logger == nil {
		opts.Agent.Logger = opts.Logger
	}
	l = &Lab{Dir: opts.Dir, opts: opts, log: opts.Logger, events: newEventLog(), gate: newGate()}
	built := l // the error returns below set l to nil
	defer func() {
		if err != nil {
			built.Close()
		}
	}()
	if l.Dir == "" {
		if l.Dir, err = os.MkdirTemp("", "simhook-lab-"); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		l.tempDir = true
	}
	if l.Secret = opts.Secret; l.Secret == "" {
		l.Secret = randomSecret()
	}
	if err := os.MkdirAll(filepath.Join(l.Dir, "dev"), 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	for i := range opts.Phones {
		var onURC func(string, time.Time)
		if opts.OnURC != nil {
			phone := i + 1
			onURC = func(line string, at time.Time) { opts.OnURC(phone, line, at) }
		}
		m, err := modemsim.New(modemsim.Options{
			OnURC:            onURC,
			Profile:          opts.Profile,
			ReplyDelay:       opts.ReplyDelay,
			ReenumerateDelay: opts.ReenumerateDelay,
			Capacity:         map[string]int{"SM": opts.Capacity, "ME": opts.Capacity},
			Link:             l.ModemLink(i + 1),
			IMEI:             fmt.Sprintf("35%013d", 1000+i),
		})
		if err != nil {
			return nil, fmt.Errorf("lab: modem %d: %w", i+1, err)
		}
		l.Modems = append(l.Modems, m)
	}
	if err := l.startReceiver(); err != nil {
		return nil, err
	}
	l.ConfigPath = filepath.Join(l.Dir, "simhook.yaml")
	if err := l.WriteConfig(l.ConfigYAML()); err != nil {
		return nil, err
	}
	if !opts.Stopped {
		if err := l.StartAgent(ctx); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// ModemLink is the stable device path of phone id (like /dev/serial/by-id).
func (l *Lab) ModemLink(id int) string {
	return filepath.Join(l.Dir, "dev", fmt.Sprintf("usb-simhook-sim%d-if00", id))
}

// startReceiver serves the verifying receiver on a loopback port, behind the
// lab's gate (which tests close to simulate an outage).
func (l *Lab) startReceiver() error {
	secrets := append([]string(nil), l.opts.ReceiverSecrets...)
	if len(secrets) == 0 {
		secrets = []string{l.Secret}
	}
	for i, s := range secrets {
		if s == "" {
			secrets[i] = l.Secret
		}
	}
	l.Receiver = receiver.New(receiver.Options{
		Secrets: secrets,
		Out:     l.opts.ReceiverOut,
		JSONL:   l.opts.ReceiverJSONL,
		Now:     l.opts.ReceiverNow,
		Logger:  l.log.With("component", "receiver"),
		OnEvent: func(v receiver.Verdict) {
			if l.opts.OnEvent != nil {
				l.opts.OnEvent(v)
			}
			l.events.record(v)
		},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("lab: receiver: %w", err)
	}
	l.ReceiverURL = "http://" + ln.Addr().String() + "/hook"
	l.serveReceiver(ln)
	return nil
}

// serveReceiver serves the receiver on ln until ReceiverStop or Close.
func (l *Lab) serveReceiver(ln net.Listener) {
	l.srv = &http.Server{Handler: l.gate.wrap(l.Receiver), ReadHeaderTimeout: 5 * time.Second}
	l.srvDone = make(chan struct{})
	srv, done := l.srv, l.srvDone
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.log.Error("receiver stopped", "err", err)
		}
	}()
}

// ReceiverStop takes the receiver's server away: connections are refused,
// as when the customer's server is down or the network is cut.
func (l *Lab) ReceiverStop() {
	if l.srv == nil {
		return
	}
	_ = l.srv.Close()
	<-l.srvDone
	l.srv = nil
}

// ReceiverStart serves the receiver again on the same address.
func (l *Lab) ReceiverStart() error {
	if l.srv != nil {
		return nil
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(l.ReceiverURL, "http://"), "/hook")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("lab: receiver: %w", err)
	}
	l.serveReceiver(ln)
	return nil
}

// WriteConfig replaces the configuration file by rename, as editors and dpkg
// do, so a running agent's watcher sees one complete new version.
func (l *Lab) WriteConfig(text string) error {
	tmp := l.ConfigPath + ".tmp-lab"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		return fmt.Errorf("lab: config: %w", err)
	}
	if err := os.Rename(tmp, l.ConfigPath); err != nil {
		return fmt.Errorf("lab: config: %w", err)
	}
	return nil
}

// StartAgent loads the configuration file and runs a new agent on it until
// StopAgent or Close. It returns once the agent is ready.
func (l *Lab) StartAgent(ctx context.Context) error {
	l.agentMu.Lock()
	defer l.agentMu.Unlock()
	if l.agent != nil {
		return errors.New("lab: agent already running")
	}
	cfg, err := config.Load(l.ConfigPath)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	a, err := agent.New(cfg, l.opts.Agent)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	errc := make(chan error, 1)
	go func() { errc <- a.Run(runCtx) }()
	select {
	case <-a.Ready():
	case err := <-errc:
		stop()
		return fmt.Errorf("lab: agent: %w", err)
	case <-ctx.Done():
		stop()
		<-errc
		return ctx.Err()
	}
	l.agent, l.stop, l.agentErr = a, stop, errc
	return l.waitPhonesUp(ctx, a)
}

// waitPhonesUp waits until every phone has finished its initialisation, so
// that what a test injects next meets a modem set up as in production.
func (l *Lab) waitPhonesUp(ctx context.Context, a *agent.Agent) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		up := 0
		phones := a.Phones()
		for _, p := range phones {
			if p.Status == "up" {
				up++
			}
		}
		if up == len(phones) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: %d of %d phones up after 20s", up, len(phones))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Agent returns the running agent, or nil.
func (l *Lab) Agent() *agent.Agent {
	l.agentMu.Lock()
	defer l.agentMu.Unlock()
	return l.agent
}

// StopAgent stops the agent gracefully and returns what Run returned.
func (l *Lab) StopAgent() error {
	l.agentMu.Lock()
	defer l.agentMu.Unlock()
	if l.agent == nil {
		return nil
	}
	l.stop()
	err := <-l.agentErr
	l.agent, l.stop, l.agentErr = nil, nil, nil
	return err
}

// ReceiverDown makes the receiver refuse every request with 503 until
// ReceiverUp, as a server under maintenance would.
func (l *Lab) ReceiverDown() { l.gate.set(false) }

// ReceiverUp lets requests through to the receiver again.
func (l *Lab) ReceiverUp() { l.gate.set(true) }

// Close stops the agent, the receiver and the modems, and removes a
// temporary directory unless Keep.
func (l *Lab) Close() error {
	err := l.StopAgent()
	if l.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = l.srv.Shutdown(ctx)
		cancel()
		<-l.srvDone
	}
	for _, m := range l.Modems {
		if cerr := m.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if l.tempDir && !l.opts.Keep {
		_ = os.RemoveAll(l.Dir)
	}
	return err
}

// randomSecret makes a fresh 32-character secret.
func randomSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// FastModem shortens a simulated phone's driver timers (probe, sweep, ring
// gap, reconnect backoff) so that faults and call ends show within a
// test's patience. Tests put it in Options.Agent.Modem.
func FastModem(c *modem.Config) {
	c.ProbeInterval = 500 * time.Millisecond
	c.SweepInterval = 5 * time.Second
	c.RingGap = 2 * time.Second
	c.Backoff = modem.Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
}

// Transmitted counts, over the labs' modems, how often each text was sent.
func Transmitted(labs ...*Lab) map[string]int {
	out := map[string]int{}
	for _, l := range labs {
		for _, m := range l.Modems {
			for _, s := range m.SentMessages() {
				out[s.Text]++
			}
		}
	}
	return out
}
