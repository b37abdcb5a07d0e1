package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/simhook/simhook/webhook"
	"go.etcd.io/bbolt"
)

// TestGroupCommitIsolatesFailures enqueues concurrently, some events failing
// in Body (before writing) and some in Also (after writing): each failing
// event returns its error and stores nothing, every other event is stored
// exactly once, and a cleanly failing Body never runs twice.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		failBody func(i int) bool
		failAlso func(i int) bool
	}{
		{"no failures", func(int) bool { return false }, func(int) bool { return false }},
		{"every 7th body fails", func(i int) bool { return i%7 == 0 }, func(int) bool { return false }},
		{"every 5th Also fails", func(int) bool { return false }, func(i int) bool { return i%5 == 0 }},
		{"both", func(i int) bool { return i%7 == 0 }, func(i int) bool { return i%5 == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := open(t, Options{})
			const n = 400
			var bodyRuns [n]atomic.Int32
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = o.Enqueue(context.Background(), Event{
						Type: webhook.ReceiveSMS, DedupeKey: fmt.Sprint("g", i),
						Body: func(id uint64) ([]byte, error) {
							bodyRuns[i].Add(1)
							if tt.failBody(i) {
								return nil, errors.New("bad body")
							}
							return fmt.Appendf(nil, `{"id":%d}`, id), nil
						},
						Also: func(tx *bbolt.Tx, id uint64) error {
							b, err := tx.CreateBucketIfNotExists([]byte("agent/test"))
							if err != nil {
								return err
							}
							if err := b.Put(fmt.Append(nil, i), []byte("x")); err != nil {
								return err
							}
							if tt.failAlso(i) {
								return errors.New("also refused")
							}
							return nil
						},
					})
				}()
			}
			wg.Wait()
			want := 0
			for i := range n {
				fails := tt.failBody(i) || tt.failAlso(i)
				if fails != (errs[i] != nil) {
					t.Errorf("event %d: err %v, want failure %v", i, errs[i], fails)
				}
				if !fails {
					want++
				}
				if tt.failBody(i) && bodyRuns[i].Load() != 1 {
					t.Errorf("event %d: failing body ran %d times", i, bodyRuns[i].Load())
				}
			}
			err := o.db.View(func(tx *bbolt.Tx) error {
				if got := tx.Bucket(eventsBucket).Stats().KeyN; got != want {
					t.Errorf("%d events stored, want %d", got, want)
				}
				agent := tx.Bucket([]byte("agent/test"))
				for i := range n {
					stored := agent != nil && agent.Get(fmt.Append(nil, i)) != nil
					if ok := !(tt.failBody(i) || tt.failAlso(i)); stored != ok {
						t.Errorf("event %d: agent record stored %v, want %v", i, stored, ok)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			checkFile(t, o.db)
			checkCounts(t, o)
		})
	}
}

// TestUpdatePanicIsAnError checks a panicking function neither stops the
// committer nor commits.
func TestUpdatePanicIsAnError(t *testing.T) {
	t.Parallel()
	o := open(t, Options{})
	err := o.Update(context.Background(), func(tx *bbolt.Tx) error {
		b, _ := tx.CreateBucketIfNotExists([]byte("agent/p"))
		_ = b.Put([]byte("k"), []byte("v"))
		panic("boom")
	})
	if err == nil {
		t.Fatal("a panicking update succeeded")
	}
	if err := o.Update(context.Background(), func(tx *bbolt.Tx) error {
		if tx.Bucket([]byte("agent/p")) != nil {
			return errors.New("the panicking update was committed")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestWritesAfterClose get ErrClosed.
func TestWritesAfterClose(t *testing.T) {
	t.Parallel()
	o := open(t, Options{})
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := o.Enqueue(context.Background(), benchEvent(1))
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("enqueue after close: %v", err)
	}
}
