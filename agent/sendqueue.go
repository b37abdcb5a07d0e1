package agent

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

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
	// pick claims a phone for a request, or returns nil when none is free.
	pick func(r sendRecord) sendPhone
	// flight is the context of the sends in progress. It outlives the
	// agent's own so that a stop waits for the modem's answer instead of
	// abandoning it; abort cancels it when stop's grace runs out.
	flight context.Context
	abort  context.CancelFunc

	mu     sync.Mutex
	rr     int                 // round-robin position among phone ids
	inUse  map[uint64]struct{} // records being sent right now
	halted bool                // stop was called: no new send starts
	wg     sync.WaitGroup      // owns the per-send goroutines
}

// newSendQueue makes the queue of agent a.
func newSendQueue(a *Agent) *sendQueue {
	q := &sendQueue{a: a, clock: clock.Or(a.opts.Clock), wake: make(chan struct{}, 1), inUse: make(map[uint64]struct{})}
	q.pick = q.pickPhone
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
	select {
	case q.wake <- struct{}{}:
	default:
	}
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

// dispatch starts a send for every due request that has a free phone, fails
// the ones that waited longer than the queue timeout, and returns when it
// must look again without being kicked: the next request's due time, or the
// time a waiting request times out (zero when neither).
func (q *sendQueue) dispatch(ctx context.Context) time.Time {
	a := q.a
	timeout := a.cfg.Load().Sending.QueueTimeout.Duration
	now := q.clock.Now()
	due, next, _, err := a.st.Due(now, 0)
	if err != nil {
		a.log.Error("reading the send queue", "err", err)
		return now.Add(commitRetry)
	}
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
		p := q.pick(r)
		if p == nil {
			if timeout <= 0 {
				continue
			}
			if expiry := r.Created.Add(timeout); now.After(expiry) {
				r.LastError = "no phone could take it within " + timeout.String()
				if err := a.commitSend(ctx, r, stateFailed, statusFailed, nil); err != nil {
					a.log.Error("failing timed-out send", "send", r.ID, "err", err)
				}
			} else {
				next = clock.Earliest(next, expiry.Add(time.Nanosecond))
			}
			continue
		}
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
			defer p.Release()
			defer func() {
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

// isHalted reports whether stop was called.
func (q *sendQueue) isHalted() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.halted
}

// pickPhone claims the phone a request should go through: the one it names,
// otherwise the next up and enabled phone in round-robin order. It returns nil
// when none is free.
func (q *sendQueue) pickPhone(r sendRecord) sendPhone {
	a := q.a
	disabled := a.disabledPhones() // read before the locks: a read may wait for a writer
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.Phone != 0 {
		w := a.workers[r.Phone]
		if w != nil && w.up() && !disabled[w.id] && w.claim() {
			return w
		}
		return nil
	}
	ids := make([]int, 0, len(a.workers))
	for id := range a.workers {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range ids {
		w := a.workers[ids[(q.rr+i)%len(ids)]]
		if w.up() && !disabled[w.id] && w.claim() {
			q.rr = (q.rr + i + 1) % len(ids)
			return w
		}
	}
	return nil
}
