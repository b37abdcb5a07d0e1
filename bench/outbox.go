package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/receiver"
	"github.com/simhook/simhook/webhook"
)

// OutboxFigures are the outbox's own rates, on a real bbolt file with fsync.
type OutboxFigures struct {
	Events            int           `json:"events"`
	Writers           int           `json:"writers"`
	EnqueueSerial     float64       `json:"enqueue_serial_per_s"`
	EnqueueConcurrent float64       `json:"enqueue_concurrent_per_s"`
	Drain             time.Duration `json:"drain_ns"`
	DrainRate         float64       `json:"drain_per_s"`
}

// benchWriters is how many goroutines enqueue at once in the concurrent
// figure (received SMS from several phones, calls and reports together).
const benchWriters = 32

// MeasureOutbox fills an outbox with n events while its receiver is not
// yet served, then starts the dispatcher and times the drain to a verifying
// receiver on 127.0.0.1.
func MeasureOutbox(ctx context.Context, n int) (OutboxFigures, error) {
	f := OutboxFigures{Events: n, Writers: benchWriters}
	dir, err := os.MkdirTemp("", "simhook-bench-outbox-")
	if err != nil {
		return f, err
	}
	defer os.RemoveAll(dir)

	const secret = "bench-secret-0123456789abcdef"
	rcv := receiver.New(receiver.Options{Secrets: []string{secret}, Logger: slog.New(slog.DiscardHandler), RememberIDs: n + 16})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return f, err
	}
	srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	o, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Options{Logger: slog.New(slog.DiscardHandler), Concurrency: 8})
	if err != nil {
		return f, err
	}
	defer o.Close()
	err = o.SetEndpoints([]outbox.Endpoint{{Endpoint: webhook.Endpoint{
		Name: "bench", URL: "http://" + ln.Addr().String() + "/hook", Secrets: []string{secret},
	}}})
	if err != nil {
		return f, err
	}

	serial := min(n/2, 2000)
	start := time.Now()
	for i := range serial {
		if err := enqueueOne(ctx, o, i); err != nil {
			return f, err
		}
	}
	f.EnqueueSerial = float64(serial) / time.Since(start).Seconds()

	rest := n - serial
	start = time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, benchWriters)
	for w := range benchWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := serial + w; i < n; i += benchWriters {
				if err := enqueueOne(ctx, o, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return f, err
	}
	if rest > 0 {
		f.EnqueueConcurrent = float64(rest) / time.Since(start).Seconds()
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	start = time.Now()
	go func() { done <- o.Run(runCtx) }()
	defer func() {
		stop()
		<-done
	}()
	for rcv.Stats().Accepted < int64(n) {
		select {
		case <-ctx.Done():
			return f, fmt.Errorf("drain: %d of %d delivered: %w", rcv.Stats().Accepted, n, ctx.Err())
		case err := <-done:
			return f, fmt.Errorf("dispatcher stopped: %w", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	f.Drain = time.Since(start)
	f.DrainRate = float64(n) / f.Drain.Seconds()
	if st := rcv.Stats(); st.Rejected > 0 {
		return f, errors.New("the receiver rejected requests during the drain")
	}
	return f, nil
}

// enqueueOne durably enqueues a receive_sms event numbered i.
func enqueueOne(ctx context.Context, o *outbox.Outbox, i int) error {
	_, err := o.Enqueue(ctx, outbox.Event{
		Type:      webhook.ReceiveSMS,
		Phone:     1,
		DedupeKey: fmt.Sprintf("bench/%d", i),
		Body: func(id uint64) ([]byte, error) {
			return fmt.Appendf(nil, `{"id":%d,"at":"2026-11-22 10:00:00","text":"bench %d","destination":1,"origin":"+33612345678","command":false,"mms":false,"medias":[]}`, id, i), nil
		},
	})
	return err
}
