package outbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
	"go.etcd.io/bbolt"
)

const testSecret = "outbox-test-secret"

// receiver is a scripted endpoint: answer decides each request's status.
type receiver struct {
	mu     sync.Mutex
	srv    *httptest.Server
	answer func(n int) int
	n      int
	got    map[string][]string // random id → bodies' texts, in arrival order
	tried  map[string]int      // random id → requests that were answered
	bad    int
	seen   chan struct{}
	order  []string                  // random ids accepted, in arrival order
	at     map[string]time.Time      // random id → when it was first accepted
	now    func() time.Time          // the time signatures are checked against
	secret func() string             // the secret requests must be signed with
	delay  func(n int) time.Duration // how long to wait before answering
	gate   *gate                     // if set, holds each request until it lets it through
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	t.Helper()
	r := &receiver{answer: answer, got: make(map[string][]string), tried: make(map[string]int), seen: make(chan struct{}, 1), at: make(map[string]time.Time),
		now: time.Now, secret: func() string { return testSecret }}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	ev, perr := webhook.ParseRequest(req, body)
	r.mu.Lock()
	r.n++
	n := r.n
	var delay time.Duration
	if r.delay != nil {
		delay = r.delay(n)
	}
	r.mu.Unlock()
	if r.gate != nil && !r.gate.wait(req.Context()) {
		return // the sender gave up: not received
	}
	if delay > 0 {
		// A slow receiver: if the sender gave up meanwhile, the request
		// counts as not received.
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			return
		}
	}
	r.mu.Lock()
	if perr == nil {
		r.tried[ev.RandomID]++
	}
	secret := r.secret()
	verr := webhook.VerifyStandard([]string{secret}, req.Header, body, r.now(), time.Hour)
	status := 200
	if r.answer != nil {
		status = r.answer(n)
	}
	if perr != nil || verr != nil || webhook.VerifyLegacy(secret, ev.RandomID, ev.Signature) != nil {
		r.bad++
		status = 400
	} else if status/100 == 2 {
		if _, ok := r.at[ev.RandomID]; !ok {
			r.at[ev.RandomID] = time.Now()
		}
		r.got[ev.RandomID] = append(r.got[ev.RandomID], string(ev.Body))
		r.order = append(r.order, ev.RandomID)
	}
	r.mu.Unlock()
	select {
	case r.seen <- struct{}{}:
	default:
	}
	w.WriteHeader(status)
}

// gate holds a receiver's requests until the test lets them through, one
// at a time or all at once, and counts those it holds.
type gate struct {
	mu   sync.Mutex
	held int                // requests waiting at the gate now
	most int                // the most it held at once
	pass chan chan struct{} // lets one held request through; closed once it no longer counts
	open chan struct{}      // closed: every request goes through
	once sync.Once
}

func newGate() *gate { return &gate{pass: make(chan chan struct{}), open: make(chan struct{})} }

// wait holds a request until it may go through (true) or ctx ends (false).
// The request stops counting as held once it passes, before it is
// answered, so the count never includes a request whose answer the sender
// already has.
func (g *gate) wait(ctx context.Context) bool {
	g.mu.Lock()
	g.held++
	g.most = max(g.most, g.held)
	g.mu.Unlock()
	var passed chan struct{}
	ok := true
	select {
	case passed = <-g.pass:
	case <-g.open:
	case <-ctx.Done():
		ok = false
	}
	g.mu.Lock()
	g.held--
	g.mu.Unlock()
	if passed != nil {
		close(passed)
	}
	return ok
}

// letOne lets one held request through, waiting for one if none is held,
// and returns once it no longer counts as held.
func (g *gate) letOne() {
	passed := make(chan struct{})
	g.pass <- passed
	<-passed
}

// counts returns how many requests the gate holds now, and the most it
// held at once.
func (g *gate) counts() (held, most int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held, g.most
}

// release lets every request through, now and from now on.
func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// delivered returns how many distinct events arrived with a 2xx.
func (r *receiver) delivered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *receiver) endpoint(name string) Endpoint {
	return Endpoint{
		Endpoint: webhook.Endpoint{Name: name, URL: r.srv.URL + "/hook", Secrets: []string{testSecret}},
		Timeout:  2 * time.Second,
		Retry:    RetryPolicy{Initial: 20 * time.Millisecond, MaxInterval: 200 * time.Millisecond, MaxAge: time.Hour, ClientErrorAttempts: 3},
	}
}

// open makes an outbox in a temp dir with fast probes.
func open(t *testing.T, opts Options) *Outbox {
	t.Helper()
	if opts.ProbeInterval == 0 {
		opts.ProbeInterval = 50 * time.Millisecond
	}
	o, err := Open(filepath.Join(t.TempDir(), "outbox.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// run starts the dispatcher until the test ends, or until the function it
// returns is called.
func run(t *testing.T, o *Outbox) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// enqueueN enqueues n receive_sms events.
func enqueueN(t *testing.T, o *Outbox, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := o.Enqueue(context.Background(), benchEventKey(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// benchEventKey is test event i, with dedupe key "k<i>".
func benchEventKey(i int) Event {
	return Event{Type: webhook.ReceiveSMS, Phone: 1, DedupeKey: fmt.Sprint("k", i),
		Body: func(id uint64) ([]byte, error) { return fmt.Appendf(nil, `{"id":%d,"text":"m%d"}`, id, i), nil }}
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkFile runs bbolt's consistency check on a closed or open file.
func checkFile(t *testing.T, db *bbolt.DB) {
	t.Helper()
	err := db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("file check: %v", err)
	}
}

// checkCounts compares the running counters with a full recount.
func checkCounts(t *testing.T, o *Outbox) {
	t.Helper()
	err := o.db.View(func(tx *bbolt.Tx) error {
		want := recount(tx)
		got := make(map[string]int64)
		_ = tx.Bucket(countsBucket).ForEach(func(k, v []byte) error {
			got[string(k)] = int64(binary.BigEndian.Uint64(v))
			return nil
		})
		if !maps.Equal(got, want) {
			t.Errorf("counters %v, recount %v", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer is a log sink shared with the dispatcher's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
