package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// Bucket names. They are the layout of existing outbox.db files and must not
// change.
var (
	sendsBucket      = []byte("agent/sends") // finished requests
	activeBucket     = []byte("agent/sends-active")
	queuedBucket     = []byte("agent/sends-queued")
	openBucket       = []byte("agent/sends-open")
	doneBucket       = []byte("agent/sends-done")
	refsBucket       = []byte("agent/refs")
	reportsBucket    = []byte("agent/kept-reports")
	callsBucket      = []byte("agent/calls")
	slotsBucket      = []byte("agent/slots")
	malformedBucket  = []byte("agent/malformed")
	alertsBucket     = []byte("agent/alerts")
	disabledBucket   = []byte("agent/disabled")
	concatRefBucket  = []byte("agent/concat-ref")
	metaBucket       = []byte("agent/meta")
	usageBucket      = []byte("agent/usage")
	requestIDsBucket = []byte("agent/request-ids")
)

// allBuckets are created at Open.
var allBuckets = [][]byte{sendsBucket, activeBucket, queuedBucket, openBucket, doneBucket, refsBucket, reportsBucket,
	callsBucket, slotsBucket, malformedBucket, alertsBucket, disabledBucket, concatRefBucket, metaBucket, usageBucket, requestIDsBucket}

// Backend is the file the state lives in: the outbox's reads and its group
// commit (*outbox.Outbox implements it). Update's fn may run more than once
// and must write only through tx.
type Backend interface {
	View(fn func(tx *bbolt.Tx) error) error
	Update(ctx context.Context, fn func(tx *bbolt.Tx) error) error
}

// Hook writes state in the transaction of an outbox event; it is the type of
// outbox.Event.Also. id is the event's id.
type Hook = func(tx *bbolt.Tx, id uint64) error

// Store is the agent's durable state.
type Store struct {
	b Backend
}

// Open creates the buckets the state needs and migrates an older layout.
func Open(ctx context.Context, b Backend) (*Store, error) {
	s := &Store{b: b}
	err := b.Update(ctx, func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return migrate(tx)
	})
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	return s, nil
}

// view runs fn in a read transaction.
func (s *Store) view(fn func(tx *bbolt.Tx) error) error { return s.b.View(fn) }

// update runs fn in the outbox's group commit, WithoutCancel: once a caller
// decided to write, a cancelled request must not leave the write half-known.
func (s *Store) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	return s.b.Update(ctx, fn)
}

// u64 encodes n as an 8-byte big-endian key, so keys sort as numbers.
func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// u64From decodes a u64 key (8 bytes).
func u64From(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// timeKey is an index key: t in nanoseconds since 1970 (0 for the zero time
// or earlier), then id, so keys sort by time and then by id.
func timeKey(t time.Time, id uint64) []byte {
	var ns uint64
	if !t.IsZero() && t.UnixNano() > 0 {
		ns = uint64(t.UnixNano())
	}
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 16), ns)
	return binary.BigEndian.AppendUint64(k, id)
}

// timeKeyParts splits a timeKey.
func timeKeyParts(k []byte) (time.Time, uint64, bool) {
	if len(k) != 16 {
		return time.Time{}, 0, false
	}
	ns := binary.BigEndian.Uint64(k[:8])
	var t time.Time
	if ns > 0 {
		t = time.Unix(0, int64(ns))
	}
	return t, binary.BigEndian.Uint64(k[8:]), true
}

// errCorrupt marks a record that cannot be decoded.
var errCorrupt = errors.New("corrupt record")

func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

func getJSON(b *bbolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("%w at key %q: %w", errCorrupt, key, err)
	}
	return true, nil
}

// bucket returns a bucket Open created. A file changed under a running agent
// could lack it; the error says so rather than panicking.
func bucket(tx *bbolt.Tx, name []byte) (*bbolt.Bucket, error) {
	b := tx.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("store: bucket %s missing", name)
	}
	return b, nil
}

// buckets returns several buckets Open created, in order.
func buckets(tx *bbolt.Tx, names ...[]byte) ([]*bbolt.Bucket, error) {
	out := make([]*bbolt.Bucket, len(names))
	for i, name := range names {
		b, err := bucket(tx, name)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// phoneKey is a phone id as a key.
func phoneKey(id int) []byte { return fmt.Appendf(nil, "%d", id) }

// Apply runs h in a transaction of its own, as if for event id: to write
// state that no event goes with (a repair, a test's set-up).
func (s *Store) Apply(ctx context.Context, id uint64, h Hook) error {
	return s.update(ctx, func(tx *bbolt.Tx) error { return h(tx, id) })
}
