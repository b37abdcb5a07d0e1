package agent

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/internal/clock"
	"github.com/simhook/simhook/modem"
)

// BalanceStatus is a phone's last balance check (USSD).
type BalanceStatus struct {
	// Code is the USSD code sent.
	Code string `json:"code"`
	// Text is the network's answer, decoded.
	Text string `json:"text,omitempty"`
	// Value is the number found in the answer by the pattern.
	Value *float64 `json:"value,omitempty"`
	// At is when the check ran (RFC 3339).
	At string `json:"at"`
	// Error is why the last check failed, if it did.
	Error string `json:"error,omitempty"`
}

// balanceRetry is how long a failed balance check waits before the next
// try (or the period, if shorter).
const balanceRetry = 15 * time.Minute

// balanceTimeout bounds the wait for the network's answer to a check.
const balanceTimeout = 30 * time.Second

// firstNumber is the default balance pattern: the first number, with an
// optional decimal part.
var firstNumber = regexp.MustCompile(`[0-9]+(?:[.,][0-9]+)?`)

// balanceChecker runs each phone's balance check once the phone is up and
// then every balance.every. It arms one timer, for the next check due, and
// none while no phone has a check configured.
type balanceChecker struct {
	a     *Agent
	clock clock.Clock
	wake  chan struct{}
	// ussd asks phone for code; up reports whether phone is up. Unit tests
	// replace both.
	ussd func(ctx context.Context, phone int, code string) (modem.USSDReply, error)
	up   func(phone int) bool

	mu   sync.Mutex
	done map[int]balanceRun // the last check of each phone
}

// balanceRun is when a phone's check last ran, with which code, and when
// the next is due.
type balanceRun struct {
	code string
	next time.Time
}

// newBalanceChecker makes agent a's balance checker.
func newBalanceChecker(a *Agent) *balanceChecker {
	b := &balanceChecker{a: a, clock: clock.Or(a.opts.Clock), wake: make(chan struct{}, 1), done: make(map[int]balanceRun)}
	b.ussd = func(ctx context.Context, phone int, code string) (modem.USSDReply, error) {
		w, err := a.worker(phone)
		if err != nil {
			return modem.USSDReply{}, err
		}
		return w.ussd(ctx, code, balanceTimeout)
	}
	b.up = func(phone int) bool {
		w, err := a.worker(phone)
		return err == nil && w.up()
	}
	return b
}

// kick makes the checker look now: a phone came up, or the configuration
// changed.
func (b *balanceChecker) kick() {
	if b == nil {
		return
	}
	poke(b.wake)
}

// run checks balances until ctx ends.
func (b *balanceChecker) run(ctx context.Context) error {
	for {
		next := b.round(ctx)
		clock.WaitUntil(b.clock, next, b.wake, ctx.Done())
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// round runs every check that is due on a phone that is up, and returns
// when the next is due (zero when none is scheduled: the rest wait for a
// phone to come up).
func (b *balanceChecker) round(ctx context.Context) time.Time {
	var next time.Time
	for _, p := range b.a.cfg.Load().Phones {
		if p.Balance.Code == "" || ctx.Err() != nil {
			continue
		}
		b.mu.Lock()
		last, ran := b.done[p.ID]
		b.mu.Unlock()
		now := b.clock.Now()
		if ran && last.code == p.Balance.Code && now.Before(last.next) {
			next = clock.Earliest(next, last.next)
			continue
		}
		if !b.up(p.ID) {
			continue // checked when it comes up
		}
		st := b.check(ctx, p)
		wait := p.Balance.Every.Duration
		if st.Error != "" {
			wait = min(wait, balanceRetry)
		}
		run := balanceRun{code: p.Balance.Code, next: b.clock.Now().Add(wait)}
		b.mu.Lock()
		b.done[p.ID] = run
		b.mu.Unlock()
		next = clock.Earliest(next, run.next)
	}
	return next
}

// check runs one phone's balance check and records its result on the
// phone.
func (b *balanceChecker) check(ctx context.Context, p config.Phone) BalanceStatus {
	a := b.a
	st := BalanceStatus{Code: p.Balance.Code}
	reply, err := b.ussd(ctx, p.ID, p.Balance.Code)
	st.At = b.clock.Now().UTC().Format(time.RFC3339)
	st.Text = reply.Text
	if err != nil {
		a.counter.add("ussd_errors", 1)
	} else {
		a.counter.add("ussd_requests", 1)
		var v float64
		if v, err = balanceValue(reply.Text, p.Balance.Pattern); err == nil {
			st.Value = &v
		}
	}
	log := a.log.With("phone", p.ID, "code", p.Balance.Code)
	if err != nil {
		st.Error = err.Error()
		a.counter.add("balance_errors", 1)
		log.Warn("balance check failed", "err", err, "answer", reply.Text)
	} else {
		log.Info("balance checked", "balance", *st.Value, "answer", reply.Text)
	}
	if w, werr := a.worker(p.ID); werr == nil {
		w.mu.Lock()
		if st.Value == nil && w.balance != nil {
			st.Value = w.balance.Value // keep the last known value for the gauge
		}
		w.balance = &st
		w.mu.Unlock()
	}
	return st
}

// errNoBalance means the answer holds nothing the pattern finds.
var errNoBalance = errors.New("no balance in the answer")

// balanceValue reads the balance from a USSD answer: the first group of
// pattern (or its whole match; the first number when pattern is empty). A
// comma is a decimal point, unless the number also has a point (then
// commas group thousands).
func balanceValue(text, pattern string) (float64, error) {
	re := firstNumber
	if pattern != "" {
		var err error
		if re, err = regexp.Compile(pattern); err != nil {
			return 0, fmt.Errorf("balance pattern: %w", err)
		}
	}
	m := re.FindStringSubmatch(text)
	if m == nil {
		return 0, fmt.Errorf("%w (pattern %q)", errNoBalance, re.String())
	}
	s := m[0]
	if len(m) > 1 {
		s = m[1]
	}
	s = strings.TrimSpace(s)
	if strings.Contains(s, ".") {
		s = strings.ReplaceAll(s, ",", "")
	} else {
		s = strings.ReplaceAll(s, ",", ".")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not a number", errNoBalance, s)
	}
	return v, nil
}

// balanceStatus returns the phone's last balance check, or nil when none
// ran.
func (w *worker) balanceStatus() *BalanceStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.balance == nil {
		return nil
	}
	b := *w.balance
	return &b
}
