package webhook

import (
	"container/list"
	"sync"
)

// DedupeStore remembers webhook ids a receiver has handled.
type DedupeStore interface {
	// Seen records id and reports whether it was already recorded. It must
	// be atomic: of two concurrent calls with one id, exactly one gets false.
	Seen(id string) bool
}

// Forgetter is a DedupeStore that can drop an id again, so that a request
// whose handling failed is handled when it is retried.
type Forgetter interface {
	Forget(id string)
}

// Peeker is a DedupeStore that can report whether it holds an id without
// recording it. With a Peeker, the Verifier's Middleware records an id only
// once its handler has answered 2xx; without one it records the id before
// calling the handler and forgets it again (Forgetter) when the handler
// fails.
type Peeker interface {
	Peek(id string) bool
}

// LRU is an in-memory DedupeStore that forgets the least recently seen ids
// beyond its capacity. A receiver that must survive restarts keeps ids in its
// own database instead, for as long as the gateway retries (a week by
// default).
type LRU struct {
	mu    sync.Mutex
	cap   int
	order *list.List // front = most recent
	index map[string]*list.Element
}

// NewLRU returns an LRU remembering up to n ids (n < 1 means 100,000).
func NewLRU(n int) *LRU {
	if n < 1 {
		n = 100_000
	}
	return &LRU{cap: n, order: list.New(), index: make(map[string]*list.Element, min(n, 1024))}
}

// Seen records id and reports whether it was already there.
func (l *LRU) Seen(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.index[id]; ok {
		l.order.MoveToFront(e)
		return true
	}
	l.index[id] = l.order.PushFront(id)
	if l.order.Len() > l.cap {
		oldest := l.order.Back()
		l.order.Remove(oldest)
		delete(l.index, oldest.Value.(string))
	}
	return false
}

// Peek reports whether id is remembered, without recording it.
func (l *LRU) Peek(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.index[id]
	return ok
}

// Forget drops id, if it is remembered.
func (l *LRU) Forget(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.index[id]; ok {
		l.order.Remove(e)
		delete(l.index, id)
	}
}

// Len returns how many ids are remembered.
func (l *LRU) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}
