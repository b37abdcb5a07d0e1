package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/simhook/simhook/modem"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/webhook"
	"go.etcd.io/bbolt"
)

// Buckets of the durable send queue.
var (
	sendsBucket = []byte("agent/sends") // send id → sendRecord
	refsBucket  = []byte("agent/refs")  // "phone/ref" → refEntry, to match delivery reports
)

// Send states: where a request is in the queue.
const (
	stateQueued  = "queued"  // accepted, waiting for a phone
	stateSending = "sending" // handed to a phone; the modem may have accepted it
	stateSent    = "sent"    // every part accepted by the modem
	stateFailed  = "failed"  // could not be sent
)

// Webhook statuses of a sent SMS (send_sms and send_sms_status_change).
const (
	statusUnknown   = "unknown"
	statusDelivered = "delivered"
	statusFailed    = "failed"
)

// SendRequest is what a user asks to send.
type SendRequest struct {
	To           string `json:"to"`
	Text         string `json:"text"`
	Phone        int    `json:"phone,omitempty"`
	Tag          string `json:"tag,omitempty"`
	StatusReport *bool  `json:"status_report,omitempty"`
}

// sendRecord is one send request and everything known about it. Its ID is
// also the id of its send_sms event, so the id the API returns is the one
// receivers see.
type sendRecord struct {
	ID           uint64    `json:"id"`
	To           string    `json:"to"`
	Text         string    `json:"text"`
	Phone        int       `json:"phone,omitempty"` // requested phone; 0 = any
	Tag          string    `json:"tag"`
	StatusReport bool      `json:"status_report"`
	State        string    `json:"state"`
	Status       string    `json:"status,omitempty"` // webhook status once handed over
	UsedPhone    int       `json:"used_phone,omitempty"`
	Refs         []int     `json:"refs,omitempty"`
	Handed       int       `json:"handed,omitempty"` // parts whose PDU went to the modem in this attempt
	Parts        []string  `json:"parts,omitempty"`  // per-part report status
	Attempts     int       `json:"attempts"`
	LastError    string    `json:"last_error,omitempty"`
	Created      time.Time `json:"created"`
	SentAt       time.Time `json:"sent_at,omitzero"`
	NotBefore    time.Time `json:"not_before,omitzero"`
	// ReportMark is the kept-report sequence number when the last attempt
	// began: kept reports above it may be about this request.
	ReportMark uint64 `json:"report_mark,omitempty"`
	// Outcome is the outcome decided but not yet committed (the commit
	// failed); a restart commits it.
	Outcome *sendOutcome `json:"outcome,omitempty"`
}

// sendOutcome is a request's final state and webhook status.
type sendOutcome struct {
	State  string `json:"state"`
	Status string `json:"status"`
}

// refEntry links a message reference on a phone to a part of a sent SMS.
type refEntry struct {
	ID        uint64 `json:"id"`
	Part      int    `json:"part"`
	Recipient string `json:"recipient"`
}

// Send errors the API reports to the caller.
var (
	ErrInvalidRequest = errors.New("invalid send request")
	ErrUnknownPhone   = errors.New("unknown phone")
	ErrNotFound       = errors.New("not found")
)

// sendQueue drains the durable send queue through the phones.
type sendQueue struct {
	a    *Agent
	wake chan struct{}
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
	q := &sendQueue{a: a, wake: make(chan struct{}, 1), inUse: make(map[uint64]struct{})}
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

// Submit validates a request and commits it to the queue before returning,
// so an accepted request survives a crash. It returns the record as stored.
func (a *Agent) Submit(ctx context.Context, req SendRequest) (SendStatus, error) {
	if err := a.validateSend(req); err != nil {
		return SendStatus{}, err
	}
	rec := sendRecord{
		To:           req.To,
		Text:         req.Text,
		Phone:        req.Phone,
		Tag:          req.Tag,
		StatusReport: req.StatusReport == nil || *req.StatusReport,
		State:        stateQueued,
		Created:      a.now(),
	}
	err := a.out.Update(ctx, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(sendsBucket)
		if err != nil {
			return err
		}
		id, err := b.NextSequence()
		if err != nil {
			return err
		}
		rec.ID = id
		return putJSON(tx, sendsBucket, u64key(id), rec)
	})
	if err != nil {
		return SendStatus{}, fmt.Errorf("queue send: %w", err)
	}
	a.counter.add("sends_accepted", 1)
	a.sends.kick()
	return rec.status(), nil
}

// validateSend refuses what can never be sent.
func (a *Agent) validateSend(req SendRequest) error {
	if err := modem.ValidNumber(req.To); err != nil {
		return fmt.Errorf("%w: to: %w", ErrInvalidRequest, err)
	}
	if strings.TrimSpace(req.Text) == "" {
		return fmt.Errorf("%w: text is empty", ErrInvalidRequest)
	}
	if _, err := modem.Parts(req.Text); err != nil {
		return fmt.Errorf("%w: text: %w", ErrInvalidRequest, err)
	}
	if req.Phone != 0 && !a.hasPhone(req.Phone) {
		return fmt.Errorf("%w: %w %d", ErrInvalidRequest, ErrUnknownPhone, req.Phone)
	}
	return nil
}

// hasPhone reports whether phone id is configured.
func (a *Agent) hasPhone(id int) bool {
	for _, p := range a.cfg.Load().Phones {
		if p.ID == id {
			return true
		}
	}
	return false
}

// SendStatus is what the API shows of a send request.
type SendStatus struct {
	ID        uint64 `json:"id"`
	State     string `json:"state"`
	Status    string `json:"status,omitempty"`
	To        string `json:"to"`
	Phone     int    `json:"phone,omitempty"`
	Tag       string `json:"tag"`
	Parts     int    `json:"parts,omitempty"`
	Refs      []int  `json:"refs,omitempty"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
	Created   string `json:"created"`
	SentAt    string `json:"sent_at,omitempty"`
}

// status renders a record for the API.
func (r sendRecord) status() SendStatus {
	s := SendStatus{ID: r.ID, State: r.State, Status: r.Status, To: r.To, Phone: r.UsedPhone, Tag: r.Tag,
		Refs: r.Refs, Attempts: r.Attempts, LastError: r.LastError, Created: r.Created.UTC().Format(time.RFC3339)}
	if n, err := modem.Parts(r.Text); err == nil {
		s.Parts = n
	}
	if !r.SentAt.IsZero() {
		s.SentAt = r.SentAt.UTC().Format(time.RFC3339)
	}
	return s
}

// SendStatusOf returns the state of send request id.
func (a *Agent) SendStatusOf(id uint64) (SendStatus, error) {
	var rec sendRecord
	err := a.out.DB().View(func(tx *bbolt.Tx) error {
		ok, err := getJSON(tx, sendsBucket, u64key(id), &rec)
		if !ok && err == nil {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return SendStatus{}, err
	}
	return rec.status(), nil
}

// recover settles requests a crash left in the "sending" state. One whose
// part was handed to the modem without a verdict may have been sent, so it is
// never sent again: it is reported with status "unknown", as RaspiSMS reports
// a send it cannot confirm (or "failed" when later parts never went out). One
// the modem never had goes back in the queue. An outcome decided before the
// crash is committed as decided. Delivery reports kept while they were in
// progress are applied.
func (q *sendQueue) recover(ctx context.Context) error {
	var stuck []sendRecord
	err := q.a.out.DB().View(func(tx *bbolt.Tx) error {
		return forEachSend(tx, func(r sendRecord) error {
			if r.State == stateSending {
				stuck = append(stuck, r)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("scan send queue: %w", err)
	}
	for _, r := range stuck {
		var outcome sendOutcome
		switch {
		case r.Outcome != nil:
			outcome = *r.Outcome
			q.a.log.Warn("committing a send outcome decided before the restart", "send", r.ID, "phone", r.UsedPhone, "status", outcome.Status)
		case r.Handed > len(r.Refs):
			outcome = unconfirmedOutcome(r.Text, len(r.Refs))
			q.a.log.Warn("send interrupted by a restart while the modem had it; not resending it", "send", r.ID, "phone", r.UsedPhone, "status", outcome.Status)
			r.LastError = "interrupted by a restart while the modem was sending; not resent"
		case r.Handed == 0:
			// The modem never had any part: the request goes back in
			// the queue, and this attempt does not count.
			q.a.log.Warn("send interrupted by a restart before the modem had it; sending it again", "send", r.ID, "phone", r.UsedPhone)
			r.State, r.Attempts, r.Refs = stateQueued, max(r.Attempts-1, 0), nil
		case allParts(r.Text, len(r.Refs)):
			// Every part was accepted; only the commit was interrupted.
			outcome = sendOutcome{stateSent, statusUnknown}
			q.a.log.Warn("send accepted by the modem before a restart; committing it", "send", r.ID, "phone", r.UsedPhone)
		default:
			// Every part handed over was accepted, but the rest never
			// went out: the message cannot arrive whole.
			outcome = sendOutcome{stateFailed, statusFailed}
			q.a.log.Warn("send interrupted by a restart between parts; reporting it failed", "send", r.ID, "phone", r.UsedPhone, "accepted_parts", len(r.Refs))
			r.LastError = "interrupted by a restart between two parts; the rest was not sent"
		}
		if err := q.a.settle(ctx, r, outcome); err != nil {
			return err
		}
		// Reports kept during the attempt are about it or about older sends.
		q.a.replayReports(ctx, r.UsedPhone, r.ReportMark)
	}
	return nil
}

// settle writes what recover decided for an interrupted request: back in the
// queue when outcome is zero, otherwise committed with its send_sms event.
func (a *Agent) settle(ctx context.Context, r sendRecord, outcome sendOutcome) error {
	if outcome == (sendOutcome{}) {
		if err := a.out.Update(ctx, func(tx *bbolt.Tx) error {
			return putJSON(tx, sendsBucket, u64key(r.ID), r)
		}); err != nil {
			return fmt.Errorf("requeue send %d: %w", r.ID, err)
		}
		return nil
	}
	return a.commitSend(ctx, r, outcome.State, outcome.Status, r.Refs)
}

// forEachSend calls fn for every send record, oldest first.
func forEachSend(tx *bbolt.Tx, fn func(sendRecord) error) error {
	b := tx.Bucket(sendsBucket)
	if b == nil {
		return nil
	}
	return b.ForEach(func(_, v []byte) error {
		var r sendRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return nil // a corrupt record is skipped, not fatal
		}
		return fn(r)
	})
}

// run hands queued requests to phones until ctx ends or stop is called.
// The sends it started are waited for by stop.
func (q *sendQueue) run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		q.dispatch(ctx)
		if q.isHalted() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-q.wake:
		case <-tick.C:
		}
	}
}

// dispatch starts a send for every queued request that has a free phone,
// and fails the ones that waited longer than the queue timeout.
func (q *sendQueue) dispatch(ctx context.Context) {
	a := q.a
	timeout := a.cfg.Load().Sending.QueueTimeout.Duration
	now := a.now()
	var queued []sendRecord
	_ = a.out.DB().View(func(tx *bbolt.Tx) error {
		return forEachSend(tx, func(r sendRecord) error {
			if r.State == stateQueued {
				queued = append(queued, r)
			}
			return nil
		})
	})
	for _, r := range queued {
		if ctx.Err() != nil {
			return
		}
		q.mu.Lock()
		_, busy := q.inUse[r.ID]
		q.mu.Unlock()
		if busy || now.Before(r.NotBefore) {
			continue
		}
		w := q.pickPhone(r)
		if w == nil {
			if timeout > 0 && now.Sub(r.Created) > timeout {
				r.LastError = "no phone could take it within " + timeout.String()
				if err := a.commitSend(ctx, r, stateFailed, statusFailed, nil); err != nil {
					a.log.Error("failing timed-out send", "send", r.ID, "err", err)
				}
			}
			continue
		}
		q.mu.Lock()
		if q.halted {
			q.mu.Unlock()
			w.release()
			return
		}
		q.inUse[r.ID] = struct{}{}
		q.wg.Add(1)
		q.mu.Unlock()
		go func() {
			defer q.wg.Done()
			defer w.release()
			defer func() {
				q.mu.Lock()
				delete(q.inUse, r.ID)
				q.mu.Unlock()
				q.kick()
			}()
			q.sendOne(q.flight, w, r)
		}()
	}
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
func (q *sendQueue) pickPhone(r sendRecord) *worker {
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

// errHandOver means a part's hand-over to the modem could not be recorded,
// so it was not handed over.
var errHandOver = errors.New("recording the hand-over to the modem")

// errNotQueued means a request was no longer queued when its send began:
// the snapshot dispatch worked from was older than a send that finished.
var errNotQueued = errors.New("no longer queued")

// sendOne sends one request through w and commits the outcome together with
// its send_sms event. Each part's reference is recorded as soon as the modem
// answers it; the phone's delivery reports wait until the send ends.
func (q *sendQueue) sendOne(ctx context.Context, w *worker, r sendRecord) {
	a := q.a
	// Every report kept from here on may be about this send: the mark is
	// taken before the phone's reports start to wait.
	var mark uint64
	_ = a.out.DB().View(func(tx *bbolt.Tx) error {
		mark = reportMark(tx)
		return nil
	})
	a.beginSend(w.id)
	if err := a.out.Update(ctx, func(tx *bbolt.Tx) error {
		// Re-read the record: only a request still queued and due may be
		// sent (the dispatcher's snapshot may be older than a send that
		// just ended).
		ok, err := getJSON(tx, sendsBucket, u64key(r.ID), &r)
		if err != nil {
			return err
		}
		if !ok || r.State != stateQueued || a.now().Before(r.NotBefore) {
			return errNotQueued
		}
		r.State = stateSending
		r.UsedPhone = w.id
		r.Attempts++
		r.Refs, r.Handed = nil, 0
		r.ReportMark = mark
		return putJSON(tx, sendsBucket, u64key(r.ID), r)
	}); err != nil {
		a.endSend(context.WithoutCancel(ctx), w.id, mark)
		if !errors.Is(err, errNotQueued) {
			a.log.Error("marking send in progress", "send", r.ID, "err", err)
		}
		return
	}
	defer a.endSend(context.WithoutCancel(ctx), w.id, r.ReportMark)

	refs, err := w.phone.SendEach(ctx, r.To, r.Text, r.StatusReport, modem.SendHooks{
		// Recorded before the PDU goes out: a restart can then tell a
		// request the modem never had (sent again) from one it may have
		// sent (never sent again).
		Handing: func(part int) error {
			r.Handed = part + 1
			if err := a.saveProgress(ctx, r); err != nil {
				return fmt.Errorf("%w: part %d: %w", errHandOver, part+1, err)
			}
			return nil
		},
		Accepted: func(_, ref int) {
			r.Refs = append(r.Refs, ref)
			if err := a.saveProgress(ctx, r); err != nil {
				a.log.Error("recording a message reference", "send", r.ID, "ref", ref, "err", err)
			}
		},
	})
	r.Refs = refs
	maxAttempts := a.cfg.Load().Sending.MaxAttempts
	var outcome sendOutcome
	switch {
	case err == nil:
		a.counter.add("sends_ok", 1)
		outcome = sendOutcome{stateSent, statusUnknown}
	case len(refs) == 0 && ctx.Err() != nil && !errors.Is(err, modem.ErrUnconfirmed):
		// Stopped before the modem had the message: it waits for the next run.
		r.Attempts--
		q.requeue(ctx, r, time.Time{})
		return
	case len(refs) == 0 && errors.Is(err, errHandOver):
		// The state file refused the hand-over record, so nothing was sent.
		w.log.Error("send held back: its hand-over could not be recorded", "send", r.ID, "err", err)
		r.Attempts--
		r.LastError = err.Error()
		q.requeue(ctx, r, a.now().Add(5*time.Second))
		return
	case len(refs) == 0 && modem.Temporary(err) && r.Attempts < maxAttempts:
		a.counter.add("sends_retried", 1)
		w.log.Warn("transient send error; will retry", "send", r.ID, "attempt", r.Attempts, "err", err)
		r.LastError = err.Error()
		q.requeue(ctx, r, a.now().Add(time.Duration(r.Attempts)*2*time.Second))
		return
	case errors.Is(err, modem.ErrUnconfirmed):
		// The modem took the last part it was given without a verdict
		// (the port closed, the phone was stopped, or it stayed silent): it
		// may be on its way, so it is not sent again.
		a.counter.add("sends_unconfirmed", 1)
		outcome = unconfirmedOutcome(r.Text, len(refs))
		w.log.Warn("send not confirmed by the modem; not resending it", "send", r.ID, "accepted_parts", len(refs), "status", outcome.Status, "err", err)
		r.LastError = err.Error()
	default:
		a.counter.add("sends_failed", 1)
		w.log.Warn("send failed", "send", r.ID, "accepted_parts", len(refs), "err", err)
		r.LastError = err.Error()
		outcome = sendOutcome{stateFailed, statusFailed}
	}
	if err := q.commitPersistently(ctx, r, outcome); err != nil {
		a.log.Error("send outcome not recorded; the next start commits it", "send", r.ID, "err", err)
	}
}

// requeue puts a request back in the queue, to be tried again from notBefore.
// Nothing reached the modem, so the request must not be settled as sent: the
// write is tried again while the state file refuses it, until a stop. (A
// request a stop leaves in the sending state is reported unknown at the next
// start, never sent twice.)
func (q *sendQueue) requeue(ctx context.Context, r sendRecord, notBefore time.Time) {
	r.State, r.NotBefore = stateQueued, notBefore
	q.persist(ctx, r.ID, "requeueing a send", func() error {
		return q.a.out.Update(context.WithoutCancel(ctx), func(tx *bbolt.Tx) error {
			return putJSON(tx, sendsBucket, u64key(r.ID), r)
		})
	})
}

// commitRetry is how long persist waits between tries.
const commitRetry = 2 * time.Second

// commitPersistently commits a request's outcome, trying again while the
// state file refuses writes (a full disk), until it works or the send is
// aborted by a stop. After a first failure the decided outcome is written on
// its own if possible, so a restart commits it rather than "unknown". The
// phone stays claimed meanwhile: nothing more is sent through it while
// outcomes cannot be recorded.
func (q *sendQueue) commitPersistently(ctx context.Context, r sendRecord, outcome sendOutcome) error {
	first := true
	return q.persist(ctx, r.ID, "recording send outcome", func() error {
		err := q.a.commitSend(ctx, r, outcome.State, outcome.Status, r.Refs)
		if err != nil && first {
			first = false
			r.Outcome = &outcome
			_ = q.a.saveProgress(ctx, r)
		}
		return err
	})
}

// persist runs write until it succeeds or ctx ends, counting and logging
// each failure.
func (q *sendQueue) persist(ctx context.Context, id uint64, what string, write func() error) error {
	for {
		err := write()
		if err == nil {
			return nil
		}
		q.a.counter.add("send_commit_errors", 1)
		q.a.log.Error(what+"; will try again", "send", id, "err", err, "in", commitRetry)
		t := time.NewTimer(commitRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// saveProgress stores a request as it is while it is being sent: its message
// references so far (with their report-matching entries), and its decided
// outcome if there is one.
func (a *Agent) saveProgress(ctx context.Context, r sendRecord) error {
	return a.out.Update(context.WithoutCancel(ctx), func(tx *bbolt.Tx) error {
		if err := putJSON(tx, sendsBucket, u64key(r.ID), r); err != nil {
			return err
		}
		return putRefs(tx, r)
	})
}

// putRefs links each of a request's message references on its phone to the
// part it was answered for.
func putRefs(tx *bbolt.Tx, r sendRecord) error {
	for i, ref := range r.Refs {
		e := refEntry{ID: r.ID, Part: i, Recipient: r.To}
		if err := putJSON(tx, refsBucket, refKey(r.UsedPhone, ref), e); err != nil {
			return err
		}
	}
	return nil
}

// allParts reports whether accepted parts are the whole of text.
func allParts(text string, accepted int) bool {
	n, err := modem.Parts(text)
	return err == nil && accepted >= n
}

// unconfirmedOutcome is the state and webhook status of a request whose part
// after the accepted ones reached the modem without a verdict. When that was
// the last part, every part may be on its way and the status is unknown, as
// after a restart mid-send. Otherwise later parts were never handed over, so
// the message cannot arrive whole: it failed.
func unconfirmedOutcome(text string, accepted int) sendOutcome {
	if n, err := modem.Parts(text); err == nil && accepted+1 >= n {
		return sendOutcome{stateSent, statusUnknown}
	}
	return sendOutcome{stateFailed, statusFailed}
}

// commitSend records a request's final hand-over state and its send_sms event
// in one transaction, together with the references that delivery reports
// will be matched against.
func (a *Agent) commitSend(ctx context.Context, r sendRecord, state, status string, refs []int) error {
	r.State, r.Status, r.Refs, r.Outcome = state, status, refs, nil
	if r.SentAt.IsZero() {
		r.SentAt = a.now()
	}
	// One status per part of the message, not per reference: a part that
	// reached the modem without one keeps the whole from "delivered".
	parts := len(refs)
	if n, err := modem.Parts(r.Text); err == nil && n > parts {
		parts = n
	}
	r.Parts = make([]string, parts)
	loc := a.loc.Load()
	origin := a.originPhone(r)
	_, err := a.out.Enqueue(context.WithoutCancel(ctx), outbox.Event{
		Type:       webhook.SendSMS,
		LocalTimes: []string{"at"},
		Phone:      origin,
		DedupeKey:  fmt.Sprintf("send/%d", r.ID),
		Time:       a.now(),
		Body: func(uint64) ([]byte, error) {
			return json.Marshal(webhook.SendSMSBody{
				ID:          int64(r.ID),
				At:          webhook.FormatDate(r.SentAt, loc),
				Status:      status,
				Text:        r.Text,
				Destination: r.To,
				Origin:      origin,
				MMS:         false,
				Medias:      []string{},
				Tag:         r.Tag,
			})
		},
		Also: func(tx *bbolt.Tx, _ uint64) error {
			if err := putJSON(tx, sendsBucket, u64key(r.ID), r); err != nil {
				return err
			}
			return putRefs(tx, r)
		},
	})
	if err != nil {
		return fmt.Errorf("commit send %d: %w", r.ID, err)
	}
	return nil
}

// originPhone is the phone id a request's send_sms event names as its
// origin, and the phone its outbox event is routed by, so an endpoint's
// phones filter applies. SPEC §1 makes origin a phone id, but a send can fail
// before any phone took it (it timed out in the queue, every phone it could
// use disabled or down). Then the origin is the phone the request named, if
// it named one, otherwise the lowest id among the phones configured at the
// time of failure: a stable choice a receiver can document. It is 0 only when
// no phone is configured at all.
func (a *Agent) originPhone(r sendRecord) int {
	if r.UsedPhone != 0 {
		return r.UsedPhone
	}
	if r.Phone != 0 {
		return r.Phone
	}
	lowest := 0
	for _, p := range a.cfg.Load().Phones {
		if lowest == 0 || p.ID < lowest {
			lowest = p.ID
		}
	}
	return lowest
}

// refKey is the key of a message reference on a phone.
func refKey(phone, ref int) []byte { return fmt.Appendf(nil, "%d/%d", phone, ref) }
