package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/internal/clock"
	"github.com/simhook/simhook/modem"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/store"
	"github.com/simhook/simhook/webhook"
)

var (
	errCMS500   = fmt.Errorf("send: %w", &modem.CMSError{Code: 500}) // temporary
	errCMS302   = fmt.Errorf("send: %w", &modem.CMSError{Code: 302}) // operation not allowed: permanent
	errTimeout  = fmt.Errorf("part 2: %w: %w", modem.ErrUnconfirmed, modem.ErrTimeout)
	errClosed   = fmt.Errorf("part 1: %w: %w", modem.ErrUnconfirmed, modem.ErrClosed)
	errCMS96    = fmt.Errorf("send: %w", &modem.CMSError{Code: 96}) // invalid mandatory information: the message's fault
	errNotReady = fmt.Errorf("send: %w", modem.ErrNotReady)
)

// TestDecideSend covers every outcome of one send attempt.
func TestDecideSend(t *testing.T) {
	sent := sendOutcome{State: stateSent, Status: statusUnknown}
	failed := sendOutcome{State: stateFailed, Status: statusFailed}
	twoParts := "x"
	for range 200 {
		twoParts += "y"
	}
	tests := []struct {
		name     string
		err      error
		accepted int
		stopped  bool
		attempt  int
		text     string
		failover bool // another phone could take it
		want     sendDecision
	}{
		{"accepted", nil, 1, false, 1, "hi", false, sendDecision{outcome: sent, counter: "sends_ok"}},
		{"stopped before the modem had it", fmt.Errorf("x: %w", modem.ErrClosed), 0, true, 1, "hi", false,
			sendDecision{requeue: true, undo: true}},
		{"stopped after the modem had it", errClosed, 0, true, 1, "hi", false,
			sendDecision{outcome: sent, keepError: true, counter: "sends_unconfirmed", why: "send not confirmed by the modem; not resending it"}},
		{"hand-over not recorded", fmt.Errorf("%w: part 1: disk full", errHandOver), 0, false, 1, "hi", false,
			sendDecision{requeue: true, undo: true, wait: handOverRetry, keepError: true, why: "send held back: its hand-over could not be recorded"}},
		{"temporary, attempts left", errCMS500, 0, false, 2, "hi", false,
			sendDecision{requeue: true, wait: 4 * time.Second, keepError: true, counter: "sends_retried", why: "transient send error; will retry"}},
		{"temporary, last attempt", errCMS500, 0, false, 3, "hi", false,
			sendDecision{outcome: failed, keepError: true, counter: "sends_failed", why: "send failed"}},
		{"temporary after a part was accepted", errCMS500, 1, false, 1, twoParts, false,
			sendDecision{outcome: failed, keepError: true, counter: "sends_failed", why: "send failed"}},
		{"permanent", errCMS302, 0, false, 1, "hi", false,
			sendDecision{outcome: failed, keepError: true, counter: "sends_failed", why: "send failed"}},
		{"unconfirmed last part", errTimeout, 1, false, 1, twoParts, false,
			sendDecision{outcome: sent, keepError: true, counter: "sends_unconfirmed", why: "send not confirmed by the modem; not resending it"}},
		{"unconfirmed first of two parts", errClosed, 0, false, 1, twoParts, false,
			sendDecision{outcome: failed, keepError: true, counter: "sends_unconfirmed", why: "send not confirmed by the modem; not resending it"}},
		{"SIM refused, another phone can take it", errCMS302, 0, false, 1, "hi", true,
			sendDecision{requeue: true, avoid: true, keepError: true, counter: "sends_failed_over", why: "the phone's SIM cannot send; trying another phone"}},
		{"SIM refused on the last attempt", errCMS302, 0, false, 3, "hi", true,
			sendDecision{outcome: failed, keepError: true, counter: "sends_failed", why: "send failed"}},
		{"SIM refused after a part was accepted", errCMS302, 1, false, 1, twoParts, true,
			sendDecision{outcome: failed, keepError: true, counter: "sends_failed", why: "send failed"}},
		{"refused for the message, not the SIM", errCMS96, 0, false, 1, "hi", true,
			sendDecision{outcome: failed, keepError: true, counter: "sends_failed", why: "send failed"}},
		{"phone down before the hand-over, another phone can take it", errNotReady, 0, false, 1, "hi", true,
			sendDecision{requeue: true, keepError: true, counter: "sends_failed_over", why: "the phone went down before the modem had the message; trying another phone"}},
		{"phone down before the hand-over, no other phone", errNotReady, 0, false, 1, "hi", false,
			sendDecision{requeue: true, wait: 2 * time.Second, keepError: true, counter: "sends_retried", why: "transient send error; will retry"}},
		{"port closed after the hand-over is never failed over", errClosed, 0, false, 1, "hi", true,
			sendDecision{outcome: sent, keepError: true, counter: "sends_unconfirmed", why: "send not confirmed by the modem; not resending it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decideSend(tt.err, tt.accepted, tt.stopped, tt.attempt, 3, tt.text, tt.failover)
			if got != tt.want {
				t.Errorf("decideSend = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestRecoverOutcome covers what a restart decides for a request it finds
// in the sending state.
func TestRecoverOutcome(t *testing.T) {
	twoParts := "x"
	for range 200 {
		twoParts += "y"
	}
	decided := &sendOutcome{State: stateFailed, Status: statusFailed}
	tests := []struct {
		name        string
		r           sendRecord
		wantRequeue bool
		want        sendOutcome
	}{
		{"decided before the crash", sendRecord{Text: "hi", Handed: 1, Refs: []int{3}, Outcome: decided}, false, *decided},
		{"modem had it without a verdict", sendRecord{Text: "hi", Handed: 1}, false, sendOutcome{State: stateSent, Status: statusUnknown}},
		{"modem had part 1 of 2 without a verdict", sendRecord{Text: twoParts, Handed: 1}, false, sendOutcome{State: stateFailed, Status: statusFailed}},
		{"modem never had it", sendRecord{Text: "hi"}, true, sendOutcome{}},
		{"every part accepted", sendRecord{Text: twoParts, Handed: 2, Refs: []int{1, 2}}, false, sendOutcome{State: stateSent, Status: statusUnknown}},
		{"first part accepted, second never handed", sendRecord{Text: twoParts, Handed: 1, Refs: []int{1}}, false, sendOutcome{State: stateFailed, Status: statusFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := recoverOutcome(tt.r)
			if got.requeue != tt.wantRequeue || got.outcome != tt.want {
				t.Errorf("recoverOutcome = %+v, want requeue=%v outcome=%+v", got, tt.wantRequeue, tt.want)
			}
		})
	}
}

// TestPartAndOverallStatus covers how delivery reports move a sent SMS.
func TestPartAndOverallStatus(t *testing.T) {
	merge := []struct {
		cur   string
		class modem.ReportClass
		want  string
	}{
		{"", modem.Delivered, statusDelivered},
		{"", modem.Failed, statusFailed},
		{"", modem.Pending, ""},
		{statusDelivered, modem.Failed, statusDelivered},
		{statusFailed, modem.Delivered, statusFailed},
	}
	for _, tt := range merge {
		if got := mergePartStatus(tt.cur, tt.class); got != tt.want {
			t.Errorf("mergePartStatus(%q, %v) = %q, want %q", tt.cur, tt.class, got, tt.want)
		}
	}
	overall := []struct {
		cur   string
		parts []string
		want  string
	}{
		{statusUnknown, []string{statusDelivered, ""}, statusUnknown},
		{statusUnknown, []string{statusDelivered, statusDelivered}, statusDelivered},
		{statusUnknown, []string{"", statusFailed}, statusFailed},
		{statusDelivered, []string{statusFailed}, statusDelivered},
		{statusUnknown, nil, statusUnknown},
	}
	for _, tt := range overall {
		if got := overallStatus(tt.cur, tt.parts); got != tt.want {
			t.Errorf("overallStatus(%q, %v) = %q, want %q", tt.cur, tt.parts, got, tt.want)
		}
	}
}

// TestOriginPhone covers which phone a send_sms names.
func TestOriginPhone(t *testing.T) {
	h := newQueueHarness(t, 3, 2)
	tests := []struct {
		r    sendRecord
		want int
	}{
		{sendRecord{UsedPhone: 3, Phone: 2}, 3},
		{sendRecord{Phone: 2}, 2},
		{sendRecord{}, 2}, // the lowest configured id
	}
	for _, tt := range tests {
		if got := h.a.originPhone(tt.r); got != tt.want {
			t.Errorf("originPhone(%+v) = %d, want %d", tt.r, got, tt.want)
		}
	}
}

// fakePhone is a sendPhone whose answers a test scripts: each SendEach
// takes the next step.
type fakePhone struct {
	id int

	mu    sync.Mutex
	steps []fakeStep
	calls int
	busy  bool
	down  bool
	// onRelease runs as the phone is released, before it is free again.
	onRelease func()
}

// fakeStep is one scripted SendEach: accepted parts get references 10, 11,
// ...; handed parts are handed over (hooks called) before err is returned.
type fakeStep struct {
	handed, accepted int
	err              error
}

func (p *fakePhone) ID() int           { return p.id }
func (p *fakePhone) Log() *slog.Logger { return slog.New(slog.DiscardHandler) }
func (p *fakePhone) Release() {
	if p.onRelease != nil {
		p.onRelease()
	}
	p.mu.Lock()
	p.busy = false
	p.mu.Unlock()
}

func (p *fakePhone) SendEach(ctx context.Context, to, text string, report bool, hooks modem.SendHooks) ([]int, error) {
	p.mu.Lock()
	if len(p.steps) == 0 {
		p.mu.Unlock()
		return nil, errors.New("fake phone: no step scripted")
	}
	st := p.steps[0]
	p.steps = p.steps[1:]
	p.calls++
	p.mu.Unlock()
	var refs []int
	handed := st.handed
	if n, err := modem.Parts(text); err == nil && handed > n {
		handed = n // a modem hands over no more parts than the text has
	}
	for part := range handed {
		if err := hooks.Handing(part); err != nil {
			return refs, err
		}
		if part < st.accepted {
			refs = append(refs, 10+part)
			hooks.Accepted(part, 10+part)
		}
	}
	return refs, st.err
}

// queueHarness is an agent with a real store and outbox in a temporary
// file, a fake clock and fake phones, and no modem.
type queueHarness struct {
	a      *Agent
	q      *sendQueue
	clk    *clock.Fake
	phones map[int]*fakePhone
}

func newQueueHarness(t *testing.T, phoneIDs ...int) *queueHarness {
	t.Helper()
	return newQueueHarnessCfg(t, nil, phoneIDs...)
}

// newQueueHarnessCfg is newQueueHarness with the configuration changed by
// edit before the agent starts (limits, gaps, timeouts).
func newQueueHarnessCfg(t *testing.T, edit func(c *config.Config), phoneIDs ...int) *queueHarness {
	t.Helper()
	yaml := "state_dir: " + t.TempDir() + "\ntimezone: UTC\nsending:\n  max_attempts: 3\n  queue_timeout: 10m\nphones:\n"
	for _, id := range phoneIDs {
		yaml += fmt.Sprintf("  - id: %d\n    port: /dev/ttyUSB%d\n", id, id)
	}
	cfg, err := config.Parse([]byte(yaml), "")
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	clk := clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	a, err := New(cfg, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	opts := a.outboxOptions(cfg)
	opts.NoSync = true
	if a.out, err = outbox.Open(filepath.Join(cfg.StateDir, OutboxFile), opts); err != nil {
		t.Fatal(err)
	}
	if a.st, err = store.Open(context.Background(), a.out); err != nil {
		t.Fatal(err)
	}
	h := &queueHarness{a: a, clk: clk, phones: map[int]*fakePhone{}}
	for _, id := range phoneIDs {
		h.phones[id] = &fakePhone{id: id}
	}
	h.q = newSendQueue(a)
	a.sends = h.q
	// A fake phone is free while it has steps left to answer with.
	h.q.phones = func() []phoneState {
		var out []phoneState
		for _, id := range phoneIDs {
			p := h.phones[id]
			p.mu.Lock()
			out = append(out, phoneState{ID: id, Ready: !p.down, Busy: p.busy || len(p.steps) == 0, Status: "up"})
			p.mu.Unlock()
		}
		return out
	}
	h.q.claim = func(id int) sendPhone {
		p := h.phones[id]
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.busy || p.down || len(p.steps) == 0 {
			return nil
		}
		p.busy = true
		return p
	}
	t.Cleanup(func() {
		h.q.stop(time.Second)
		if err := a.st.Check(); err != nil {
			t.Errorf("store check: %v", err)
		}
		_ = a.out.Close()
	})
	return h
}

// round dispatches once and waits for the sends it started.
func (h *queueHarness) round(t *testing.T) time.Time {
	t.Helper()
	next := h.q.dispatch(context.Background())
	h.q.wg.Wait()
	return next
}

// sendEvents returns the send_sms bodies committed so far, by send id.
func (h *queueHarness) sendEvents(t *testing.T) map[int64][]webhook.SendSMSBody {
	t.Helper()
	out := map[int64][]webhook.SendSMSBody{}
	for seq := uint64(1); ; seq++ {
		ev, err := h.a.out.Show(seq)
		if err != nil {
			return out
		}
		if ev.Type != webhook.SendSMS {
			continue
		}
		var b webhook.SendSMSBody
		if err := jsonUnmarshal(ev.Body, &b); err != nil {
			t.Fatal(err)
		}
		out[b.ID] = append(out[b.ID], b)
	}
}

// TestSendQueueWithFakePhone drives the queue's state machine through
// scripted phone answers: the request's final state, the attempts it took,
// how often the phone was asked, and that it ends in exactly one send_sms
// (or none while it waits).
func TestSendQueueWithFakePhone(t *testing.T) {
	twoParts := "x"
	for range 200 {
		twoParts += "y"
	}
	tests := []struct {
		name       string
		text       string
		steps      []fakeStep
		rounds     int           // dispatch rounds
		advance    time.Duration // fake time between rounds
		wantState  string
		wantStatus string
		attempts   int
		calls      int
		events     int
		lastError  bool
	}{
		{"sent at once", "hi", []fakeStep{{1, 1, nil}}, 1, 0, stateSent, statusUnknown, 1, 1, 1, false},
		{"retried after a temporary error", "hi", []fakeStep{{0, 0, errCMS500}, {1, 1, nil}}, 2, 2 * time.Second, stateSent, statusUnknown, 2, 2, 1, true},
		{"retry not before its time", "hi", []fakeStep{{0, 0, errCMS500}, {1, 1, nil}}, 2, time.Second, stateQueued, "", 1, 1, 0, true},
		{"fails after max attempts", "hi", []fakeStep{{0, 0, errCMS500}, {0, 0, errCMS500}, {0, 0, errCMS500}}, 3, time.Minute, stateFailed, statusFailed, 3, 3, 1, true},
		{"permanent error fails at once", "hi", []fakeStep{{0, 0, errCMS302}, {1, 1, nil}}, 2, time.Minute, stateFailed, statusFailed, 1, 1, 1, true},
		{"unconfirmed is never resent", "hi", []fakeStep{{1, 0, errClosed}, {1, 1, nil}}, 2, time.Minute, stateSent, statusUnknown, 1, 1, 1, true},
		// The modem stayed silent for the whole send timeout: modem.Temporary
		// counts that as never sent, so it is tried again.
		{"silent for the whole timeout is retried", "hi", []fakeStep{{1, 0, errTimeout}, {1, 1, nil}}, 2, time.Minute, stateSent, statusUnknown, 2, 2, 1, true},
		{"two parts, second unconfirmed", twoParts, []fakeStep{{2, 1, errTimeout}, {2, 2, nil}}, 2, time.Minute, stateSent, statusUnknown, 1, 1, 1, true},
		{"two parts, second refused", twoParts, []fakeStep{{2, 1, errCMS302}}, 1, 0, stateFailed, statusFailed, 1, 1, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newQueueHarness(t, 1)
			h.phones[1].steps = tt.steps
			st, err := h.a.Submit(context.Background(), SendRequest{To: "+33612345678", Text: tt.text})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.rounds {
				if i > 0 {
					h.clk.Advance(tt.advance)
				}
				h.round(t)
			}
			r, err := h.a.st.Send(st.ID)
			if err != nil {
				t.Fatal(err)
			}
			if r.State != tt.wantState || r.Status != tt.wantStatus || r.Attempts != tt.attempts {
				t.Errorf("state %q status %q attempts %d, want %q %q %d", r.State, r.Status, r.Attempts, tt.wantState, tt.wantStatus, tt.attempts)
			}
			if (r.LastError != "") != tt.lastError {
				t.Errorf("last_error %q", r.LastError)
			}
			if got := h.phones[1].calls; got != tt.calls {
				t.Errorf("phone asked %d times, want %d", got, tt.calls)
			}
			if got := len(h.sendEvents(t)[int64(st.ID)]); got != tt.events {
				t.Errorf("%d send_sms events, want %d", got, tt.events)
			}
		})
	}
}

// TestDispatchArmsOnlyWhatIsDue checks when the queue asks to be woken
// without a kick: never for an empty queue or requests that wait for a
// phone without a queue timeout, at a retry's due time, and when a request
// waiting for a phone would time out.
func TestDispatchArmsOnlyWhatIsDue(t *testing.T) {
	h := newQueueHarness(t, 1)
	ctx := context.Background()
	if next := h.round(t); !next.IsZero() {
		t.Errorf("empty queue: wake at %v, want none", next)
	}
	// The phone is busy (no step scripted): the request waits, and the
	// queue wakes when it would time out (queue_timeout 10m).
	created := h.clk.Now()
	st, err := h.a.Submit(ctx, SendRequest{To: "+33612345678", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if next := h.round(t); !next.After(created.Add(10*time.Minute)) || next.After(created.Add(10*time.Minute+time.Second)) {
		t.Errorf("waiting request: wake at %v, want just after %v", next, created.Add(10*time.Minute))
	}
	h.clk.Advance(10*time.Minute + time.Second)
	if next := h.round(t); !next.IsZero() {
		t.Errorf("after the timeout: wake at %v, want none", next)
	}
	r, _ := h.a.st.Send(st.ID)
	if r.State != stateFailed {
		t.Errorf("timed-out request is %q, want failed", r.State)
	}
	// A retry: the queue wakes at its due time.
	h.phones[1].steps = []fakeStep{{0, 0, errCMS500}}
	st, err = h.a.Submit(ctx, SendRequest{To: "+33612345678", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	h.round(t)
	want := h.clk.Now().Add(2 * time.Second)
	if next := h.round(t); !next.Equal(want) {
		t.Errorf("retry pending: wake at %v, want %v", next, want)
	}
}

// TestRunIdlesWithoutTimers checks that the queue's loop arms no timer while
// nothing is due, and one for a pending retry.
func TestRunIdlesWithoutTimers(t *testing.T) {
	h := newQueueHarness(t, 1)
	h.phones[1].steps = []fakeStep{{0, 0, errCMS500}} // before the loop reads them
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.q.run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	if _, err := h.a.Submit(ctx, SendRequest{To: "+33612345678", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	time.AfterFunc(30*time.Second, func() { close(stop) })
	if !h.clk.WaitTimers(1, stop) {
		t.Fatal("no timer armed for the retry")
	}
	if next, _ := h.clk.Next(); !next.Equal(h.clk.Now().Add(2 * time.Second)) {
		t.Errorf("timer at %v, want the retry's time %v", next, h.clk.Now().Add(2*time.Second))
	}
	if n := h.clk.Pending(); n != 1 {
		t.Errorf("%d timers armed, want 1", n)
	}
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// TestNextSendStartsAfterARelease: when a send ends, the queue looks again
// only once the phone is free. A release that takes a moment (here 100 ms)
// used to come after the kick, so the look found the phone busy and the
// next request stalled until some other kick.
func TestNextSendStartsAfterARelease(t *testing.T) {
	h := newQueueHarness(t, 1)
	h.phones[1].steps = []fakeStep{{1, 1, nil}, {1, 1, nil}}
	h.phones[1].onRelease = func() { time.Sleep(100 * time.Millisecond) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.q.run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	for range 2 {
		if _, err := h.a.Submit(ctx, SendRequest{To: "+33612345678", Text: "hi"}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.phones[1].mu.Lock()
		calls := h.phones[1].calls
		h.phones[1].mu.Unlock()
		if calls == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second request stalled: the phone was asked %d times", calls)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
