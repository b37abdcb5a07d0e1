package outbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/simhook/simhook/webhook"
	"go.etcd.io/bbolt"
)

// Outbox is the durable event queue and its dispatcher.
type Outbox struct {
	db   *bbolt.DB
	opts Options
	path string

	mu        sync.Mutex
	endpoints map[string]*endpointState // by name
	metrics   metricsState
	// offline is the host's account: offline while every endpoint is
	// unreachable. reach has each endpoint's, by name, and offlineBase is
	// where a new one starts (see reachOf).
	offline     offlineState
	reach       map[string]*offlineState
	offlineBase time.Duration
	kick        chan struct{}
	// turn rotates the endpoint the dispatcher serves first (see pickDue).
	turn      int
	committer *committer
	// delivery holds the settings a reload may change (see SetDelivery).
	delivery atomic.Pointer[Delivery]
	// clock caches the clock guard's answer (see clockState).
	clock clockCache
	// waiting, if set (tests), is told before the dispatcher waits when it
	// will wake up by itself (zero: it will not), and how many deliveries
	// are between being sent and having their outcome recorded.
	waiting func(wake time.Time, inflight int)
}

// Open opens (or creates) the outbox file, with fsync on every commit.
func Open(path string, opts Options) (*Outbox, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	db.NoSync = opts.NoSync
	o := &Outbox{db: db, opts: opts, path: path, endpoints: make(map[string]*endpointState), kick: make(chan struct{}, 1)}
	o.metrics.init()
	o.SetDelivery(Delivery{Concurrency: opts.Concurrency, RequireTimeSync: opts.RequireTimeSync, Retention: opts.Retention,
		DeadRetention: opts.DeadRetention, ProbeMax: opts.ProbeInterval})
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{eventsBucket, deliveriesBucket, dueBucket, pendingBucket, dedupeBucket, dedupeAgeBucket, idsBucket, metaBucket, deadBucket, doneBucket, deadDoneBucket} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := ensureCounts(tx); err != nil {
			return err
		}
		ids := tx.Bucket(idsBucket)
		for _, t := range webhook.Types() {
			if _, err := ids.CreateBucketIfNotExists([]byte(t)); err != nil {
				return err
			}
		}
		o.loadReach(tx)
		return nil
	})
	if err == nil {
		err = migrate(db)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox: init %s: %w", path, err)
	}
	o.committer = newCommitter(db, opts.MaxBatch, opts.MaxBatchDelay)
	return o, nil
}

// Close closes the file. Run must have returned; writes after Close fail
// with ErrClosed.
func (o *Outbox) Close() error {
	o.committer.close()
	now := o.opts.Clock.Now()
	_ = o.db.Update(func(tx *bbolt.Tx) error { return o.saveReach(tx, now) })
	return o.db.Close()
}

// Path is the file's path.
func (o *Outbox) Path() string { return o.path }

// Update runs fn in a write transaction shared with concurrent enqueues and
// acknowledgements (group commit), and returns once it is durable. If fn
// fails, its writes are rolled back, the others of its group are not
// affected, and its error is returned. fn runs once, unless another
// function of its group fails first: the group is then rolled back and fn
// runs again in a fresh transaction, so it must write only through tx.
// ctx bounds the wait to join a group, not the commit itself.
func (o *Outbox) Update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := o.commit(ctx, fn); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// commit runs fn in the next group transaction.
func (o *Outbox) commit(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	return o.committer.do(ctx, fn)
}

// Kick makes the dispatcher look for due deliveries now.
func (o *Outbox) Kick() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// errStop ends a cursor walk early.
var errStop = errors.New("stop")

func getU64(b *bbolt.Bucket, key string) uint64 {
	v := b.Get([]byte(key))
	if len(v) != 8 {
		return 0
	}
	return uint64(v[0])<<56 | uint64(v[1])<<48 | uint64(v[2])<<40 | uint64(v[3])<<32 | uint64(v[4])<<24 | uint64(v[5])<<16 | uint64(v[6])<<8 | uint64(v[7])
}

func putU64(b *bbolt.Bucket, key string, v uint64) error { return b.Put([]byte(key), u64(v)) }

// View runs fn in a read transaction of the file. It is the read side of
// the hook through which package store keeps the agent's state in the same
// file; nothing else should need it.
func (o *Outbox) View(fn func(tx *bbolt.Tx) error) error { return o.db.View(fn) }
