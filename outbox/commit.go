package outbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.etcd.io/bbolt"
)

// ErrClosed is returned by writes to an Outbox after Close.
var ErrClosed = errors.New("outbox: closed")

// errRolledBack aborts a group transaction in which one function failed.
var errRolledBack = errors.New("a function of the group failed")

// cleanFailure is a function's error returned before it wrote anything:
// the group's transaction goes on without it.
type cleanFailure struct{ err error }

func (c cleanFailure) Error() string { return c.err.Error() }
func (c cleanFailure) Unwrap() error { return c.err }

// commitReq is one function waiting for a group transaction.
type commitReq struct {
	fn   func(tx *bbolt.Tx) error
	done chan error
}

// committer owns the write side of the file. Every write goes through it;
// whatever arrives while a transaction is being committed (fsync) is run
// in the next one, so concurrent writers share one fsync.
//
// Unlike bbolt's Batch, a function that fails does not cost the others a
// retry outside the group nor run twice itself: the group's transaction is
// rolled back, the failing function gets its error, and the rest of the
// group runs again in a fresh transaction. The earlier writes of those
// functions were rolled back with it, so nothing is applied twice.
type committer struct {
	db    *bbolt.DB
	reqs  chan *commitReq // unbuffered: a send succeeds only while the loop runs
	stop  chan struct{}
	wg    sync.WaitGroup
	max   int
	delay time.Duration
	once  sync.Once
}

func newCommitter(db *bbolt.DB, maxBatch int, delay time.Duration) *committer {
	c := &committer{db: db, reqs: make(chan *commitReq), stop: make(chan struct{}), max: maxBatch, delay: delay}
	c.wg.Add(1)
	go c.loop()
	return c
}

// close stops the loop after the group in progress; later writes get
// ErrClosed.
func (c *committer) close() {
	c.once.Do(func() { close(c.stop) })
	c.wg.Wait()
}

// do runs fn in a group transaction and returns once it is durable (or
// failed). ctx bounds only the wait to join a group: once fn is taken it
// runs to the end, so the outcome is never unknown.
func (c *committer) do(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	r := &commitReq{fn: fn, done: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-c.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.done
}

func (c *committer) loop() {
	defer c.wg.Done()
	batch := make([]*commitReq, 0, c.max)
	for {
		batch = batch[:0]
		select {
		case r := <-c.reqs:
			batch = append(batch, r)
		case <-c.stop:
			return
		}
		batch = c.gather(batch)
		c.run(batch)
		clear(batch)
	}
}

// gather adds the writers already waiting, and with a delay set, those that
// arrive within it, up to the batch size.
func (c *committer) gather(batch []*commitReq) []*commitReq {
	for len(batch) < c.max {
		select {
		case r := <-c.reqs:
			batch = append(batch, r)
			continue
		default:
		}
		break
	}
	if c.delay <= 0 || len(batch) >= c.max || len(batch) == 1 {
		// A lone writer is not kept waiting for company.
		return batch
	}
	t := time.NewTimer(c.delay)
	defer t.Stop()
	for len(batch) < c.max {
		select {
		case r := <-c.reqs:
			batch = append(batch, r)
		case <-t.C:
			return batch
		}
	}
	return batch
}

// run commits a group. A function that fails cleanly is answered and left
// out; one that fails after writing rolls the group back, is answered and
// left out, and the rest run again.
func (c *committer) run(batch []*commitReq) {
	for len(batch) > 0 {
		var failed *commitReq
		var answered []*commitReq
		err := c.db.Update(func(tx *bbolt.Tx) error {
			for _, r := range batch {
				err := safeRun(r.fn, tx)
				var cf cleanFailure
				if errors.As(err, &cf) {
					r.done <- cf.err
					answered = append(answered, r)
					continue
				}
				if err != nil {
					r.done <- err
					answered = append(answered, r)
					failed = r
					return errRolledBack
				}
			}
			return nil
		})
		batch = slices.DeleteFunc(batch, func(r *commitReq) bool { return slices.Contains(answered, r) })
		if failed != nil && errors.Is(err, errRolledBack) {
			continue
		}
		// Committed, or the commit itself failed (e.g. a full disk):
		// everyone left shares the outcome, and nothing of the group is
		// stored.
		for _, r := range batch {
			r.done <- err
		}
		return
	}
}

// safeRun runs fn, turning a panic into an error so one bad function
// cannot stop the committer.
func safeRun(fn func(tx *bbolt.Tx) error, tx *bbolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in a transaction function: %v", p)
		}
	}()
	return fn(tx)
}
