package agent

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/modem"
)

// worker owns one phone: its modem driver, the goroutine that runs it and the
// state it last reported. It is the driver's Handler.
type worker struct {
	a      *Agent
	id     int
	cfg    config.Phone
	phone  *modem.Phone
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	state   modem.State
	idle    chan struct{}  // set while a send is in progress; closed when it ends
	balance *BalanceStatus // the last balance check
}

// startWorkerLocked starts the worker for one configured phone. a.mu is held.
func (a *Agent) startWorkerLocked(p config.Phone) {
	ctx, cancel := context.WithCancel(a.runCtx)
	w := &worker{
		a:      a,
		id:     p.ID,
		cfg:    p,
		log:    a.log.With("phone", p.ID),
		cancel: cancel,
		done:   make(chan struct{}),
		state:  modem.State{Phone: p.ID, Status: "connecting", Since: a.now()},
	}
	w.phone = modem.NewPhone(a.modemConfig(p), w)
	a.workers[p.ID] = w
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer close(w.done)
		w.closeStaleCalls(ctx)
		if err := w.phone.Run(ctx); err != nil && ctx.Err() == nil {
			w.log.Error("phone stopped", "err", err)
		}
	}()
	w.log.Info("phone worker started", "port", p.Port)
}

// worker returns the running worker of a phone, or ErrUnknownPhone.
func (a *Agent) worker(phone int) (*worker, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w := a.workers[phone]; w != nil {
		return w, nil
	}
	return nil, fmt.Errorf("%w %d", ErrUnknownPhone, phone)
}

// ResetPhone sends AT+CFUN=1,1 to a phone's modem once no send is in
// progress on it (a reset during +CMGS would leave the send's fate
// unknown). The modem re-enumerates and the phone comes back by itself.
func (a *Agent) ResetPhone(ctx context.Context, phone int) error {
	w, err := a.worker(phone)
	if err != nil {
		return err
	}
	if err := w.claimWait(ctx); err != nil {
		return err
	}
	defer w.release()
	return w.phone.Reset(ctx)
}

// TracePhone streams the AT conversation of a phone until stop is called;
// stop returns how many lines the subscriber did not take in time.
func (a *Agent) TracePhone(phone int) (lines <-chan modem.TraceLine, stop func() int, err error) {
	w, err := a.worker(phone)
	if err != nil {
		return nil, nil, err
	}
	lines, stop = w.phone.SubscribeTrace()
	return lines, stop, nil
}

// stop ends the worker and waits for its driver to return.
func (w *worker) stop() {
	w.cancel()
	<-w.done
}

// modemConfig maps a configured phone onto the driver's configuration.
func (a *Agent) modemConfig(p config.Phone) modem.Config {
	mc := modem.Config{
		ID:              p.ID,
		Port:            p.Port,
		Match:           modem.Match{USB: p.Match.USB, IMEI: p.Match.IMEI, ICCID: p.Match.ICCID},
		Baud:            p.Baud,
		PIN:             p.PIN,
		Storage:         p.Storage,
		DeliveryReports: p.DeliveryReports,
		RejectCalls:     p.Calls == "reject",
		Init:            p.Init,
		CommandTimeout:  p.CommandTimeout.Duration,
		ProbeInterval:   p.ProbeInterval.Duration,
		SweepInterval:   p.SweepInterval.Duration,
		ConcatTimeout:   p.ConcatTimeout.Duration,
		RingGap:         p.RingGap.Duration,
		Trace:           p.Trace,
		RefSource:       a.concatRefSource(p.ID),
		Logger:          a.log.With("component", "modem", "phone", p.ID),
	}
	if a.opts.Modem != nil {
		a.opts.Modem(&mc)
	}
	return mc
}

// phoneChanged reports whether a phone's configuration differs in a way that
// needs its worker restarted. The trace setting does not (it is applied to
// the running phone), nor do the sending limits, gap, prefixes and balance
// check, which the send queue and the balance check read as they go.
func phoneChanged(old, new config.Phone) bool {
	for _, p := range []*config.Phone{&old, &new} {
		p.Trace, p.Limits, p.SendGap, p.Allow, p.Balance = false, config.Limits{}, config.SendGap{}, nil, config.Balance{}
	}
	return !reflect.DeepEqual(old, new)
}

// ID is the phone's id.
func (w *worker) ID() int { return w.id }

// Log is the phone's logger.
func (w *worker) Log() *slog.Logger { return w.log }

// Release gives the phone back after a send.
func (w *worker) Release() { w.release() }

// SendEach sends through the phone's driver.
func (w *worker) SendEach(ctx context.Context, to, text string, report bool, hooks modem.SendHooks) ([]int, error) {
	return w.phone.SendEach(ctx, to, text, report, hooks)
}

// HandleState records what the driver reports about the phone. It comes at
// every health probe, which is also when the disk guard looks again.
func (w *worker) HandleState(s modem.State) {
	w.a.disk.check(false)
	w.mu.Lock()
	prev := w.state.Status
	w.state = s
	w.mu.Unlock()
	if prev != s.Status {
		w.a.fleet.phoneChanged()
		w.log.Info("phone state", "status", s.Status, "signal", s.Signal, "registration", s.Registration, "err", s.LastError)
		if s.Status == "up" {
			w.a.sends.kick()
			w.a.balance.kick()
		}
	}
}

// State returns the phone's last reported state.
func (w *worker) State() modem.State {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state
}

// up reports whether the phone can take a send now.
func (w *worker) up() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state.Status == "up"
}

// busy reports whether a send is in progress on the phone.
func (w *worker) busy() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.idle != nil
}

// claim marks the phone busy with a send; it fails if it already is.
func (w *worker) claim() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.idle != nil {
		return false
	}
	w.idle = make(chan struct{})
	return true
}

// claimWait claims the phone, waiting for the send in progress to end.
func (w *worker) claimWait(ctx context.Context) error {
	for !w.claim() {
		w.mu.Lock()
		idle := w.idle
		w.mu.Unlock()
		if idle == nil {
			continue // released between the two looks: claim again
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-idle:
		}
	}
	return nil
}

// release ends a claim.
func (w *worker) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.idle != nil {
		close(w.idle)
		w.idle = nil
	}
}

// retire waits, up to grace, for the send in progress on the phone to end.
// The caller has already taken the worker out of the agent's map, so no new
// send can claim it. A send still waiting for the modem when grace runs out
// is cut short by the stop; it is then reported with status unknown and not
// sent again.
func (w *worker) retire(grace time.Duration) {
	w.mu.Lock()
	idle := w.idle
	w.mu.Unlock()
	if idle == nil {
		return
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
		w.log.Warn("send still in progress after the grace time; stopping the phone anyway", "grace", grace)
	}
}
