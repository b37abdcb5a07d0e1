package outbox

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/simhook/simhook/internal/redact"
	"github.com/simhook/simhook/webhook"
	"go.etcd.io/bbolt"
)

// stopGrace is how long Run waits for requests in flight when it stops.
const stopGrace = 5 * time.Second

// pick is one delivery chosen to be attempted.
type pick struct {
	seq      uint64
	endpoint string
	probe    bool
}

func (p pick) key() string { return string(deliveryKey(p.seq, p.endpoint)) }

// attemptResult is what one request got.
type attemptResult struct {
	pick
	status     int
	retryAfter time.Duration
	err        error
	skipped    bool // nothing to send any more (delivered, removed, parked)
	started    time.Time
}

// Run dispatches until ctx ends. It then stops taking new work, waits up to
// a few seconds for the requests in flight and records their outcome.
func (o *Outbox) Run(ctx context.Context) error {
	reqCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	// A request frees its slot as soon as it has its answer; its delivery
	// stays in inflight (not picked again) until the outcome is committed,
	// which happens in the next group transaction. Up to maxInflight
	// deliveries are between the two.
	done := make(chan string, 4*o.settings().Concurrency)
	slotFreed := make(chan struct{}, 1)
	var slots slotTable
	inflight := make(map[string]bool)
	var wg sync.WaitGroup
	// The loop arms a timer only for the next thing due: a delivery, a
	// probe, a reservation lapsing, retention, a disabled endpoint's
	// delivery to age, pages to hand back. With nothing due it arms none
	// and sleeps until a kick (an enqueue, a reload, an operator) or a
	// request ending.
	var lastPrune, lastRelease time.Time
	touched := true // pages were read or written since the last release
	holdLogged := false
	for ctx.Err() == nil {
		set := o.settings()
		maxInflight := 4 * set.Concurrency
		now := o.opts.Clock.Now()
		var wake time.Time // zero: nothing due
		soon := func(t time.Time) {
			if !t.IsZero() && (wake.IsZero() || t.Before(wake)) {
				wake = t
			}
		}
		if at, ok := o.nextPrune(now, set); ok {
			// At most every pruneEvery, unless the clock was set back.
			if !lastPrune.IsZero() && !now.Before(lastPrune) {
				at = maxTime(at, lastPrune.Add(o.pruneEvery()))
			}
			if !at.After(now) {
				lastPrune, touched = now, true
				if n, err := o.prune(now, set.Retention, set.DeadRetention); err != nil {
					o.opts.Logger.Error("pruning the outbox", "err", err)
				} else if n > 0 {
					o.opts.Logger.Info("pruned finished events", "events", n)
				}
				if at, ok = o.nextPrune(now, set); ok {
					at = maxTime(at, now.Add(o.pruneEvery()))
				}
			}
			if ok {
				soon(at)
			}
		}
		hold, clk := o.holding()
		busy, busyBy := slots.snapshot()
		if hold {
			if !holdLogged {
				o.opts.Logger.Warn("holding webhooks until the system clock is known to be synchronised", "clock", clk.String())
				holdLogged = true
			}
			if o.anyPending() {
				soon(now.Add(time.Second)) // look again soon: NTP may sync any moment
			}
		} else {
			holdLogged = false
			next, changed, err := o.expireDisabled(now)
			if err != nil {
				o.opts.Logger.Error("ageing a disabled endpoint's deliveries", "err", err)
			}
			touched = touched || changed
			soon(next)
		}
		if free := min(set.Concurrency-busy, maxInflight-len(inflight)); !hold && free > 0 {
			picks, next, err := o.pickDue(now, free, inflight, busyBy)
			if err != nil {
				o.opts.Logger.Error("reading due deliveries", "err", err)
			}
			for _, p := range picks {
				inflight[p.key()] = true
				slots.take(p.endpoint)
				busy++
				touched = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					res := o.attempt(reqCtx, p)
					o.settle(res, func() {
						slots.free(p.endpoint)
						select {
						case slotFreed <- struct{}{}:
						default:
						}
					})
					done <- p.key()
				}()
			}
			// With every slot taken, a finishing request wakes the loop.
			if busy < set.Concurrency && len(inflight) < maxInflight {
				soon(next)
			}
		}
		if touched {
			if lastRelease.IsZero() || now.Sub(lastRelease) >= releaseEvery || now.Before(lastRelease) {
				lastRelease, touched = now, false
				o.releaseMapped()
			} else {
				soon(lastRelease.Add(releaseEvery))
			}
		}
		var timer Timer
		var timeout <-chan time.Time
		if !wake.IsZero() {
			timer = o.opts.Clock.NewTimer(max(wake.Sub(now), 0))
			timeout = timer.C()
		}
		if o.waiting != nil {
			o.waiting(wake, len(inflight))
		}
		select {
		case <-ctx.Done():
		case <-o.kick:
		case k := <-done:
			delete(inflight, k)
			touched = true
		case <-slotFreed:
		case <-timeout:
		}
		if timer != nil {
			timer.Stop()
		}
	}
	// Stop: let the requests in flight finish for a while, then cut them.
	finished := make(chan struct{})
	go func() {
		for range inflight {
			<-done
		}
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(stopGrace):
		cancelRequests()
		<-finished
	}
	wg.Wait()
	return nil
}

// pruneEvery is how often, at most, retention runs while events are due to
// go.
func (o *Outbox) pruneEvery() time.Duration {
	return min(time.Hour, max(o.settings().Retention/10, time.Minute))
}

// reserveFor is how long an endpoint that had something to send (or was
// configured) keeps a slot reserved after it last did: its next event then
// goes out at once, even while another endpoint has a backlog on a slow
// receiver.
const reserveFor = time.Minute

// pickDue chooses up to n deliveries to attempt now and returns when the
// next one is due (zero if none is pending). What each endpoint may send:
//   - unreachable (see reach.go): only a probe, the oldest delivery, when
//     its time comes and no request to it is in progress;
//   - draining (it answered after failures): the backlog oldest first,
//     whatever its backoff said;
//   - failing (it answers with errors): a probe when its time comes, else
//     what is due;
//   - healthy: what is due, earliest first.
//
// busy counts each endpoint's requests in progress. The n free slots are
// shared fairly (see share): one endpoint, however long its receiver takes
// to answer, never holds every slot while another endpoint is active.
func (o *Outbox) pickDue(now time.Time, n int, inflight map[string]bool, busy map[string]int) ([]pick, time.Time, error) {
	o.mu.Lock()
	views := make([]*epView, 0, len(o.endpoints))
	for name, st := range o.endpoints {
		if st.disabled {
			continue
		}
		// Times later than the longest wait the dispatcher schedules were
		// stamped by a clock that has since been set back: due now.
		stale := now.Add(o.longestWait(st.ep.Retry))
		probeNow := (st.failing > 0 || st.reach.offline) && (!now.Before(st.nextProbe) || st.nextProbe.After(stale))
		views = append(views, &epView{name: name, unreachable: st.reach.offline, drain: st.drain, probeNow: probeNow,
			failing: st.failing > 0, netChanged: st.netChanged, nextProbe: st.nextProbe, stale: stale, activeAt: st.activeAt, busy: busy[name]})
	}
	// The endpoint served first when counts tie turns with each call.
	sort.Slice(views, func(i, j int) bool { return views[i].name < views[j].name })
	if len(views) > 0 {
		o.turn = (o.turn + 1) % len(views)
		views = append(views[o.turn:], views[:o.turn]...)
	}
	o.mu.Unlock()

	var next time.Time // zero: nothing due
	soon := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	var drained []string
	err := o.db.View(func(tx *bbolt.Tx) error {
		pending := tx.Bucket(pendingBucket).Cursor()
		due := tx.Bucket(dueBucket).Cursor()
		// oldest walks the endpoint's pending deliveries by age.
		oldest := func(v *epView, limit int, probe bool) (found bool) {
			prefix := duePrefix(v.name)
			for k, _ := pending.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = pending.Next() {
				seq, ok := pendingKeySeq(k)
				if !ok {
					continue
				}
				found = true
				if len(v.cands) >= limit {
					return true
				}
				if p := (pick{seq: seq, endpoint: v.name, probe: probe}); !inflight[p.key()] {
					v.cands = append(v.cands, p)
				}
			}
			return found
		}
		for _, v := range views {
			switch {
			case v.unreachable:
				// One probe at a time, unless the network changed since
				// the one in progress left: a request in progress wakes
				// the dispatcher when it ends.
				if v.busy > 0 && !v.netChanged {
					continue
				}
				if v.probeNow {
					oldest(v, 1, true)
					continue
				}
				soon(v.nextProbe)
				continue
			case v.failing && !v.drain:
				if v.probeNow {
					oldest(v, 1, true)
					continue
				}
				soon(v.nextProbe)
			case v.drain:
				if !oldest(v, n, false) {
					drained = append(drained, v.name)
				}
				continue
			}
			// What is due, then what is stale (due times after v.stale).
			prefix := duePrefix(v.name)
			k, _ := due.Seek(prefix)
			for k != nil && bytes.HasPrefix(k, prefix) && len(v.cands) < n {
				_, at, seq, ok := dueKeyParts(k)
				switch {
				case !ok:
				case at.After(now) && !at.After(v.stale):
					soon(at)
					k, _ = due.Seek(dueKey(v.name, v.stale.Add(time.Nanosecond), 0))
					continue
				default:
					if p := (pick{seq: seq, endpoint: v.name}); !inflight[p.key()] {
						v.cands = append(v.cands, p)
					}
				}
				k, _ = due.Next()
			}
		}
		return nil
	})
	picks, until := share(views, n, now)
	if !until.IsZero() {
		soon(until)
	}
	o.mu.Lock()
	for _, v := range views {
		st := o.endpoints[v.name]
		if st == nil {
			continue
		}
		if len(v.cands) > 0 {
			st.activeAt = now
		}
		if v.taken > 0 && v.cands[0].probe {
			// The next probe waits its turn whatever this one's outcome
			// (an answer resets it; a request that cannot even be built,
			// a bad template, must not make the backlog a busy loop).
			st.lastProbe, st.netChanged = now, false
			if v.unreachable {
				st.nextProbe = now.Add(o.probeWait(st.probes))
			} else {
				st.nextProbe = now.Add(o.jitter(o.settings().ProbeMax))
			}
		}
		if slices.Contains(drained, v.name) {
			st.drain = false
		}
	}
	o.mu.Unlock()
	return picks, next, err
}

// epView is what pickDue knows of one endpoint.
type epView struct {
	name            string
	unreachable     bool
	netChanged      bool // the network changed since its last probe
	drain, probeNow bool
	failing         bool
	nextProbe       time.Time
	stale           time.Time // due times after it are due now
	activeAt        time.Time // when it last had something to send
	busy            int       // requests in progress
	cands           []pick    // what it would send now, in its order
	taken           int       // how many of cands got a slot
}

// share hands n free slots to the views' candidates: each slot goes to the
// endpoint with the fewest requests in progress, ties going to the first in
// views' order (which rotates). An endpoint that already has a request in
// progress takes another only if that leaves a slot for every other active
// endpoint (one with something to send, or that had within reserveFor)
// that has none: a receiver that is slow to answer cannot hold every slot
// while another endpoint has work, nor delay the next event of one that
// sends now and then. If candidates are left waiting for a reservation,
// until is when the earliest one lapses.
func share(views []*epView, n int, now time.Time) (picks []pick, until time.Time) {
	// An unreachable endpoint reserves nothing: its probes would otherwise
	// keep a slot from the others for the whole outage. A due probe still
	// gets a slot (its load is 0).
	reserves := func(v *epView) bool { return !v.unreachable && recent(v.activeAt, now) }
	active := func(v *epView) bool { return len(v.cands) > 0 || reserves(v) }
	for len(picks) < n {
		var best *epView
		idle := 0 // active endpoints with nothing in progress
		for _, v := range views {
			if active(v) && v.busy+v.taken == 0 {
				idle++
			}
		}
		for _, v := range views {
			load := v.busy + v.taken
			if v.taken >= len(v.cands) || load > 0 && n-len(picks)-1 < idle {
				continue
			}
			if best == nil || load < best.busy+best.taken {
				best = v
			}
		}
		if best == nil {
			break
		}
		picks = append(picks, best.cands[best.taken])
		best.taken++
	}
	// Candidates waiting for a slot are woken by one freeing, but not by a
	// reservation lapsing: say when the earliest one does.
	if slices.ContainsFunc(views, func(v *epView) bool { return v.taken < len(v.cands) }) {
		for _, r := range views {
			if len(r.cands) == 0 && r.busy == 0 && reserves(r) {
				if t := r.activeAt.Add(reserveFor); until.IsZero() || t.Before(until) {
					until = t
				}
			}
		}
	}
	return picks, until
}

// retryAfterCap bounds the wait a Retry-After can ask for, in MaxIntervals.
const retryAfterCap = 24

// longestWait is more than the longest wait the dispatcher schedules for a
// delivery or a probe of an endpoint with policy p (a Retry-After at its
// cap, a jittered probe). A due time further than that from now
// was stamped by a clock that has since been set back (a clock ahead that
// NTP corrects), and is taken as due now rather than waited for.
func (o *Outbox) longestWait(p RetryPolicy) time.Duration {
	return max(retryAfterCap*p.MaxInterval, o.settings().ProbeMax*3/2) + ageSlack
}

// jitter spreads d over [d/2, 3d/2).
func (o *Outbox) jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d)+1))
}

// attempt sends one delivery.
func (o *Outbox) attempt(ctx context.Context, p pick) attemptResult {
	res := attemptResult{pick: p, started: o.opts.Clock.Now()}
	var ev eventRecord
	var randomID string
	err := o.db.View(func(tx *bbolt.Tx) error {
		d, ok, err := getDelivery(tx, p.seq, p.endpoint)
		if err != nil || !ok || d.State != StatePending {
			res.skipped = true
			return err
		}
		e, ok, err := getEvent(tx, p.seq)
		if err != nil || !ok {
			res.skipped = true
			return err
		}
		ev, randomID = e, d.RandomID
		return nil
	})
	if err != nil || res.skipped {
		res.skipped = true
		return res
	}
	if rb := o.rebased(p.seq, ev); !rb.Time.Equal(ev.Time) {
		// Re-based: the delivery's random id was drawn again with it.
		ev = rb
		err := o.db.View(func(tx *bbolt.Tx) error {
			d, ok, err := getDelivery(tx, p.seq, p.endpoint)
			if err != nil || !ok || d.State != StatePending {
				res.skipped = true
				return err
			}
			randomID = d.RandomID
			return nil
		})
		if err != nil || res.skipped {
			res.skipped = true
			return res
		}
	}
	o.mu.Lock()
	st := o.endpoints[p.endpoint]
	o.mu.Unlock()
	if st == nil || st.disabled {
		res.skipped = true
		return res
	}
	msg := webhook.Message{Type: ev.Type, Timestamp: ev.Time.Unix(), RandomID: randomID, Body: ev.Body}
	rctx, cancel := context.WithTimeout(ctx, st.ep.Timeout)
	defer cancel()
	req, err := st.enc.NewRequest(rctx, msg, o.opts.Clock.Now())
	if err != nil {
		res.err = redact.Error(err)
		res.status = -1
		return res
	}
	o.metrics.add("attempts", "", "", 1)
	if pub := st.ep.Publisher; pub != nil {
		if err := pub.Publish(rctx, msg, req); err != nil {
			res.err = redact.Error(err)
			return res
		}
		res.status = http.StatusOK
		return res
	}
	resp, err := o.opts.HTTPClient.Do(req)
	if err != nil {
		res.err = redact.Error(err) // it quotes the URL, credentials and all
		return res
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	res.status = resp.StatusCode
	res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), o.opts.Clock.Now())
	return res
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// classify maps an attempt to its outcome class.
func classify(res attemptResult) string {
	switch s := res.status; {
	case res.err != nil && s == -1:
		return OutcomeClientError // the request could not even be built
	case res.err != nil:
		return OutcomeNetwork
	case s >= 200 && s < 300:
		return OutcomeDelivered
	case s == http.StatusGone:
		return OutcomeDisabled
	case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests, s >= 500:
		return OutcomeRetry
	default:
		return OutcomeClientError
	}
}

// settle records an attempt's outcome: the endpoint's health, the network
// state, and the delivery record. freed runs once the in-memory state is
// updated, before the record is committed.
func (o *Outbox) settle(res attemptResult, freed func()) {
	if res.skipped {
		freed()
		return
	}
	now := o.opts.Clock.Now()
	outcome := classify(res)
	var nextProbe time.Time // when an unreachable endpoint is probed next
	var reachable bool      // the endpoint answered after being unreachable
	o.mu.Lock()
	st := o.endpoints[res.endpoint]
	var policy RetryPolicy
	if st != nil {
		policy = st.ep.Retry
		if res.status == -1 {
			// The request could not be built (a template that fails to
			// render or renders more than max_body): nothing was sent, so
			// neither the endpoint's health nor the network's state
			// changes. The delivery counts it as a client error below.
		} else if outcome == OutcomeNetwork && !st.lastAnswer.Before(res.started) {
			// Stale: the endpoint answered another request since this one
			// left; a late refusal or timeout says nothing about it now. It
			// counts as a failed attempt.
		} else if outcome == OutcomeNetwork {
			outcome = OutcomeOffline
			st.failing++
			st.drain = false
			switch {
			case !st.reach.offline:
				// Unreachable from when the request left: the time until it
				// answers again is not counted in its deliveries' ages.
				since := res.started
				if since.After(now) {
					since = now
				}
				st.reach.start(since)
				st.probes, st.lastProbe = 0, now
				st.nextProbe = now.Add(o.probeWait(0))
				o.opts.Logger.Warn("endpoint unreachable; probing", "endpoint", res.endpoint, "err", res.err)
			case res.probe:
				st.probes++
				st.nextProbe = now.Add(o.probeWait(st.probes))
			}
			nextProbe = st.nextProbe
			if o.allUnreachable() && !o.offline.offline {
				o.offline.start(now)
				o.opts.Logger.Warn("network down: no endpoint answers; probing", "probe_max", o.settings().ProbeMax)
			}
		} else {
			if o.offline.offline {
				// Some endpoint answers: the others may well too.
				o.offline.end(now)
				o.opts.Logger.Info("network back: probing the other endpoints")
				for _, other := range o.endpoints {
					if other.reach.offline {
						other.nextProbe, other.probes = now, 0
					}
				}
			}
			if st.reach.offline {
				st.reach.end(now)
				reachable = true
				o.opts.Logger.Info("endpoint reachable again", "endpoint", res.endpoint)
			}
			st.lastAnswer, st.probes = now, 0
			if outcome == OutcomeDelivered {
				if st.failing > 0 {
					st.drain = true
				}
				st.failing = 0
			} else {
				st.failing++
				st.drain = false
				if !st.nextProbe.After(now) {
					st.nextProbe = now.Add(o.jitter(o.settings().ProbeMax))
				}
			}
			if outcome == OutcomeDisabled {
				st.disabled = true
			}
			// The receiver asked for a pause: no early probe before it ends.
			if ra := min(res.retryAfter, retryAfterCap*policy.MaxInterval); ra > 0 && st.nextProbe.Before(now.Add(ra)) {
				st.nextProbe = now.Add(ra)
			}
		}
	} else {
		policy = RetryPolicy{}.withDefaults()
	}
	offTotal := o.reachOf(res.endpoint).totalAt(now)
	o.mu.Unlock()
	freed()

	final := outcome
	err := o.commit(context.Background(), func(tx *bbolt.Tx) error {
		final = outcome
		d, ok, err := getDelivery(tx, res.seq, res.endpoint)
		if err != nil || !ok || d.State != StatePending {
			return err
		}
		if err := deletePending(tx, res.endpoint, d.NextDue, res.seq); err != nil {
			return err
		}
		if reachable {
			if err := putU64(tx.Bucket(metaBucket), offlineKeyPrefix+res.endpoint, uint64(offTotal)); err != nil {
				return err
			}
		}
		// The age is brought up to date on every outcome, so that each
		// gap is measured against the wait that was scheduled for it.
		age := d.retryAge(now, offTotal)
		d.setAge(age, now, offTotal)
		d.LastAttempt, d.LastStatus = now, max(res.status, 0)
		d.LastError = ""
		if res.err != nil {
			d.LastError = res.err.Error()
		} else if res.status >= 300 {
			d.LastError = http.StatusText(res.status)
		}
		switch outcome {
		case OutcomeDelivered:
			d.State, d.Done = StateDelivered, now
			if err := addCount(tx, "delivered/"+res.endpoint, 1); err != nil {
				return err
			}
			if err := putDelivery(tx, res.seq, d); err != nil {
				return err
			}
			return fileFinished(tx, res.seq, now)
		case OutcomeDisabled:
			if err := tx.Bucket(metaBucket).Put([]byte("disabled/"+res.endpoint), []byte{1}); err != nil {
				return err
			}
			d.NextDue = now
		case OutcomeOffline:
			d.NextDue = nextProbe
			if d.NextDue.Before(now) {
				d.NextDue = now
			}
		default:
			d.Attempts++
			if outcome == OutcomeClientError {
				d.ClientErrors++
			}
			if age > policy.MaxAge || d.ClientErrors >= policy.ClientErrorAttempts {
				final = OutcomeDead
				d.State, d.Done = StateDead, now
				if err := putDead(tx, res.seq, res.endpoint); err != nil {
					return err
				}
				if err := putDelivery(tx, res.seq, d); err != nil {
					return err
				}
				return fileFinished(tx, res.seq, now)
			}
			wait := o.backoff(policy, d.Attempts)
			if res.retryAfter > wait {
				wait = min(res.retryAfter, retryAfterCap*policy.MaxInterval)
			}
			d.NextDue = now.Add(wait)
		}
		if err := putPending(tx, res.endpoint, d.NextDue, res.seq); err != nil {
			return err
		}
		return putDelivery(tx, res.seq, d)
	})
	if err != nil {
		o.opts.Logger.Error("recording a delivery outcome; it will be retried", "endpoint", res.endpoint, "seq", res.seq, "err", err)
		return
	}
	o.metrics.add("outcome", res.endpoint, final, 1)
	switch final {
	case OutcomeDead:
		o.opts.Logger.Error("webhook dead-lettered", "endpoint", res.endpoint, "seq", res.seq, "status", res.status, "err", res.err)
	case OutcomeDisabled:
		o.opts.Logger.Error("endpoint answered 410 Gone: disabled; events keep queuing (simhook outbox enable)", "endpoint", res.endpoint)
	case OutcomeClientError:
		if res.status == -1 {
			o.opts.Logger.Warn("webhook request could not be built; will retry", "endpoint", res.endpoint, "seq", res.seq, "err", res.err)
			break
		}
		fallthrough
	case OutcomeRetry, OutcomeNetwork:
		o.opts.Logger.Warn("webhook delivery failed; will retry", "endpoint", res.endpoint, "seq", res.seq, "status", res.status, "err", res.err)
	}
}

// allUnreachable reports whether every enabled endpoint is unreachable.
// o.mu is held.
func (o *Outbox) allUnreachable() bool {
	n := 0
	for _, st := range o.endpoints {
		if st.disabled {
			continue
		}
		if !st.reach.offline {
			return false
		}
		n++
	}
	return n > 0
}

// backoff is the wait before attempt n+1: exponential from Initial, capped
// at MaxInterval, with jitter over its upper half.
func (o *Outbox) backoff(p RetryPolicy, attempts int) time.Duration {
	d := p.Initial
	for i := 1; i < attempts && d < p.MaxInterval; i++ {
		d *= 2
	}
	d = min(d, p.MaxInterval)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// recent reports whether an endpoint active at t still has its reservation
// at now (a clock set back does not extend it beyond reserveFor).
func recent(t, now time.Time) bool {
	d := now.Sub(t)
	return d < reserveFor && d > -reserveFor
}

// slotTable counts the requests in progress, in all and per endpoint.
type slotTable struct {
	mu    sync.Mutex
	total int
	by    map[string]int
}

// take counts a request to endpoint that starts.
func (s *slotTable) take(endpoint string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.by == nil {
		s.by = make(map[string]int)
	}
	s.total++
	s.by[endpoint]++
}

// free counts a request to endpoint that has its answer.
func (s *slotTable) free(endpoint string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	if s.by[endpoint]--; s.by[endpoint] <= 0 {
		delete(s.by, endpoint)
	}
}

// snapshot returns the counts now.
func (s *slotTable) snapshot() (int, map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	by := make(map[string]int, len(s.by))
	for k, v := range s.by {
		by[k] = v
	}
	return s.total, by
}

// maxTime returns the later of a and b.
func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// anyPending reports whether a configured endpoint has a delivery pending.
func (o *Outbox) anyPending() bool {
	o.mu.Lock()
	names := make([]string, 0, len(o.endpoints))
	for name := range o.endpoints {
		names = append(names, name)
	}
	o.mu.Unlock()
	found := false
	_ = o.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(pendingBucket).Cursor()
		for _, name := range names {
			prefix := duePrefix(name)
			if k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
				found = true
				return nil
			}
		}
		return nil
	})
	return found
}
