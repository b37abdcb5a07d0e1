package agent

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/internal/clock"
	"github.com/simhook/simhook/modem"
)

// sendPhone is a phone claimed for one send: all the send queue needs of a
// phone. A worker is one; unit tests script a fake.
type sendPhone interface {
	// ID is the phone's id.
	ID() int
	// SendEach sends text to to, part by part (see modem.Phone.SendEach).
	SendEach(ctx context.Context, to, text string, report bool, hooks modem.SendHooks) ([]int, error)
	// Log is the phone's logger.
	Log() *slog.Logger
	// Release gives the phone back once the send is settled.
	Release()
}

// sendQueue drains the durable send queue through the phones. It reads only
// the requests that are due (the store's due-time index) and sleeps until
// the next one becomes due, or until kicked: by a new request, a phone that
// comes up or is enabled, a send that ends, or a reload.
type sendQueue struct {
	a     *Agent
	clock clock.Clock
	wake  chan struct{}
	// phones reports the phones' states; claim takes the phone chosen for a
	// send, or returns nil when it is no longer free. Unit tests replace
	// both.
	phones func() []phoneState
	claim  func(id int) sendPhone
	// parts counts each phone's parts for its limits.
	parts *ledger
	// gapDraw returns a pause in [min, max] for send_gap.
	gapDraw func(min, max time.Duration) time.Duration
	// flight is the context of the sends in progress. It outlives the
	// agent's own so that a stop waits for the modem's answer instead of
	// abandoning it; abort cancels it when stop's grace runs out.
	flight context.Context
	abort  context.CancelFunc

	mu      sync.Mutex
	inUse   map[uint64]struct{} // records being sent right now
	gap     map[int]time.Time   // a phone's send_gap ends
	refused map[int]time.Time   // a phone's SIM refused a send; it is tried last until then
	waits   map[uint64]waitInfo // why each due request waited at the last dispatch
	halted  bool                // stop was called: no new send starts
	wg      sync.WaitGroup      // owns the per-send goroutines
}

// newSendQueue makes the queue of agent a.
func newSendQueue(a *Agent) *sendQueue {
	q := &sendQueue{a: a, clock: clock.Or(a.opts.Clock), wake: make(chan struct{}, 1), inUse: make(map[uint64]struct{}),
		gap: make(map[int]time.Time), refused: make(map[int]time.Time), waits: make(map[uint64]waitInfo),
		parts: newLedger(nil), gapDraw: randomGap}
	q.phones, q.claim = q.workerStates, q.claimWorker
	q.flight, q.abort = context.WithCancel(context.Background())
	return q
}

// stop ends dispatching and waits up to grace for the sends in progress to
// hear from their modems. Sends still waiting after that are cancelled; the
// modem may have taken them, so they are reported with status unknown and
// never sent again.
func (q *sendQueue) stop(grace time.Duration) {
	q.mu.Lock()
	q.halted = true // after this, dispatch adds nothing to wg
	q.mu.Unlock()
	q.kick()
	done := make(chan struct{})
	go func() {
		q.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		q.a.log.Warn("sends still waiting for the modem at stop; cancelling them (reported as unknown, not resent)", "grace", grace)
		q.abort()
		<-done
	}
	q.abort()
}

// kick makes the queue look for work now.
func (q *sendQueue) kick() {
	if q == nil {
		return
	}
	poke(q.wake)
}

// run hands queued requests to phones until ctx ends or stop is called.
// Between rounds it waits for a kick or for the next due time, and arms no
// timer when nothing is due. The sends it started are waited for by stop.
func (q *sendQueue) run(ctx context.Context) error {
	for {
		next := q.dispatch(ctx)
		if q.isHalted() {
			return nil
		}
		clock.WaitUntil(q.clock, next, q.wake, ctx.Done())
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// dispatch starts a send for every due request that a phone can take now
// (see choosePhone), fails the ones that waited longer than the queue
// timeout, and returns when it must look again without being kicked: the
// next request's due time, the end of a limit or send gap a request waits
// for, or the time a waiting request times out (zero when none).
func (q *sendQueue) dispatch(ctx context.Context) time.Time {
	a := q.a
	cfg := a.cfg.Load()
	timeout := cfg.Sending.QueueTimeout.Duration
	loc := q.a.loc.Load()
	now := q.clock.Now()
	due, next, _, err := a.st.Due(now, 0)
	if err != nil {
		a.log.Error("reading the send queue", "err", err)
		return now.Add(commitRetry)
	}
	var views []phoneView
	if len(due) > 0 {
		views = q.views(cfg)
	}
	waits := make(map[uint64]waitInfo)
	defer func() {
		q.mu.Lock()
		q.waits = waits
		q.mu.Unlock()
		q.a.fleet.kick() // phones may have room for fleet requests
	}()
	for _, r := range due {
		if ctx.Err() != nil {
			return time.Time{}
		}
		q.mu.Lock()
		_, busy := q.inUse[r.ID]
		q.mu.Unlock()
		if busy {
			continue // its send ends with a kick
		}
		n, err := modem.Parts(r.Text)
		if err != nil {
			n = 1 // Submit refused such a text; count it as one part
		}
		ch := choosePhone(r, n, views, now, loc)
		var p sendPhone
		if ch.ID != 0 {
			if p = q.claim(ch.ID); p == nil {
				ch.Wait = waitInfo{For: waitPhone, Phone: ch.ID, Detail: fmt.Sprintf("phone %d is busy", ch.ID)}
			}
		}
		if p == nil {
			if held := ch.Wait.holds(); held != 0 {
				markView(views, held, func(v *phoneView) { v.HeldUntil = clock.Earliest(v.HeldUntil, ch.Wait.Until) })
			}
			if expiry := r.Created.Add(timeout); timeout > 0 && now.After(expiry) {
				q.timedOut(ctx, r, timeout, ch.Wait)
				continue
			} else if timeout > 0 {
				next = clock.Earliest(next, expiry.Add(time.Nanosecond))
			}
			waits[r.ID] = ch.Wait
			next = clock.Earliest(next, ch.Wait.Until)
			continue
		}
		markView(views, ch.ID, func(v *phoneView) { v.Busy = true })
		q.mu.Lock()
		if q.halted {
			q.mu.Unlock()
			p.Release()
			return time.Time{}
		}
		q.inUse[r.ID] = struct{}{}
		q.wg.Add(1)
		q.mu.Unlock()
		go func() {
			defer q.wg.Done()
			// The phone is released before the kick: a dispatch woken by it
			// must find the phone free, or a request that waits for it
			// would stall until some other kick.
			defer func() {
				p.Release()
				q.mu.Lock()
				delete(q.inUse, r.ID)
				q.mu.Unlock()
				q.kick()
			}()
			q.sendOne(q.flight, p, r)
		}()
	}
	return next
}

// timedOut fails a request that waited longer than sending.queue_timeout,
// saying what it waited for.
func (q *sendQueue) timedOut(ctx context.Context, r sendRecord, timeout time.Duration, w waitInfo) {
	a := q.a
	r.LastError = fmt.Sprintf("waited longer than sending.queue_timeout (%s): %s", timeout, w.Detail)
	a.log.Warn("send failed: it waited longer than sending.queue_timeout", "send", r.ID,
		"queue_timeout", timeout, "waiting_for", w.For, "why", w.Detail)
	a.counter.add("sends_queue_timeout", 1)
	if err := a.commitSend(ctx, r, stateFailed, statusFailed, nil); err != nil {
		a.log.Error("failing timed-out send", "send", r.ID, "err", err)
	}
}

// markView changes the view of phone id.
func markView(views []phoneView, id int, fn func(v *phoneView)) {
	for i := range views {
		if views[i].ID == id {
			fn(&views[i])
		}
	}
}

// views gathers what choosePhone weighs about every phone.
func (q *sendQueue) views(cfg *config.Config) []phoneView {
	byID := make(map[int]config.Phone, len(cfg.Phones))
	for _, p := range cfg.Phones {
		byID[p.ID] = p
	}
	states := q.phones()
	views := make([]phoneView, 0, len(states))
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, s := range states {
		c, ok := byID[s.ID]
		if !ok {
			continue // removed by a reload, its worker not yet stopped
		}
		views = append(views, phoneView{phoneState: s, Cfg: c, Parts: q.parts.of(s.ID),
			GapUntil: q.gap[s.ID], RefusedUntil: q.refused[s.ID]})
	}
	sort.Slice(views, func(i, j int) bool { return views[i].ID < views[j].ID })
	return views
}

// waitOf returns why queued request id waited at the last dispatch.
func (q *sendQueue) waitOf(id uint64) (waitInfo, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	w, ok := q.waits[id]
	return w, ok
}

// waitingByPhone counts, per phone, the requests that waited at the last
// dispatch for that phone's limits or send gap.
func (q *sendQueue) waitingByPhone() map[int]int {
	out := make(map[int]int)
	if q == nil {
		return out
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, w := range q.waits {
		if w.Phone != 0 && (w.For == waitLimit || w.For == waitSendGap) {
			out[w.Phone]++
		}
	}
	return out
}

// sent records, once a send on phone ended, the pause before its next one,
// when the modem was handed something.
func (q *sendQueue) sent(phone int, handed bool) {
	if !handed {
		return
	}
	cfg, ok := q.a.phoneConfig(phone)
	if !ok || cfg.SendGap.Max.Duration <= 0 {
		return
	}
	d := q.gapDraw(cfg.SendGap.Min.Duration, cfg.SendGap.Max.Duration)
	q.mu.Lock()
	q.gap[phone] = q.clock.Now().Add(d)
	q.mu.Unlock()
}

// refusedBy notes that phone's SIM refused a send: it is tried last for a
// while.
func (q *sendQueue) refusedBy(phone int) {
	q.mu.Lock()
	q.refused[phone] = q.clock.Now().Add(refusedCooldown)
	q.mu.Unlock()
}

// refusedCooldown is how long a phone whose SIM refused a send is tried
// after the others.
const refusedCooldown = 10 * time.Minute

// randomGap draws a pause uniformly in [min, max].
func randomGap(min, max time.Duration) time.Duration {
	if max <= min {
		return min
	}
	return min + rand.N(max-min+1)
}

// isHalted reports whether stop was called.
func (q *sendQueue) isHalted() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.halted
}

// workerStates reports the state of every running phone worker.
func (q *sendQueue) workerStates() []phoneState {
	a := q.a
	disabled := a.disabledPhones() // read before the lock: a read may wait for a writer
	a.mu.Lock()
	workers := make([]*worker, 0, len(a.workers))
	for _, w := range a.workers {
		workers = append(workers, w)
	}
	a.mu.Unlock()
	out := make([]phoneState, 0, len(workers))
	for _, w := range workers {
		st := w.State()
		s := phoneState{ID: w.id, Ready: st.Status == "up" && !disabled[w.id], Busy: w.busy(), Status: st.Status}
		if disabled[w.id] {
			s.Status = "disabled"
		}
		out = append(out, s)
	}
	return out
}

// claimWorker claims phone id's worker for a send, or returns nil.
func (q *sendQueue) claimWorker(id int) sendPhone {
	a := q.a
	a.mu.Lock()
	w := a.workers[id]
	a.mu.Unlock()
	if w == nil || !w.up() || !w.claim() {
		return nil
	}
	return w
}

// poke signals ch without blocking: a loop that waits on it looks again;
// a signal already pending stands for this one too.
func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
