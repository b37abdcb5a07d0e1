package outbox

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/simhook/simhook/webhook"
)

func benchEvent(i int64) Event {
	return Event{Type: webhook.ReceiveSMS, DedupeKey: fmt.Sprint("b", i),
		Body: func(id uint64) ([]byte, error) { return fmt.Appendf(nil, `{"id":%d,"text":"benchmark"}`, id), nil }}
}

// BenchmarkEnqueueSerial is one writer: every enqueue waits for its fsync.
func BenchmarkEnqueueSerial(b *testing.B) {
	o, err := Open(filepath.Join(b.TempDir(), "o.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	b.ResetTimer()
	for i := range b.N {
		if _, err := o.Enqueue(context.Background(), benchEvent(int64(i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEnqueueConcurrent is 64 writers sharing group commits.
func BenchmarkEnqueueConcurrent(b *testing.B) {
	o, err := Open(filepath.Join(b.TempDir(), "o.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := o.Enqueue(context.Background(), benchEvent(n.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// heapInUse is the Go heap in use, in bytes.
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
