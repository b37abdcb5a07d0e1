package outbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

// procStatusKB reads one field of /proc/self/status, in kB.
func procStatusKB(field string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
			return n
		}
	}
	return -1
}

// BenchmarkQueuedMillionRSS fills an outbox with 1,000,000 events for an
// endpoint that refuses connections, runs the dispatcher (offline mode,
// probes) and the observability calls over that backlog, and reports the
// process's memory: the peak resident set, its anonymous part (the Go heap
// and stacks; the rest is bbolt's file-backed mmap, which the kernel can
// drop), and the heap in use. Run it alone:
//
//	go test -run '^$' -bench QueuedMillionRSS -benchtime 1x ./outbox/
func BenchmarkQueuedMillionRSS(b *testing.B) {
	const n = 1_000_000
	for range b.N {
		o, err := Open(filepath.Join(b.TempDir(), "o.db"), Options{ProbeInterval: 200 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		ep := Endpoint{Endpoint: webhook.Endpoint{Name: "down", URL: "http://127.0.0.1:1/hook", Secrets: []string{"s"}}}
		if err := o.SetEndpoints([]Endpoint{ep}); err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 64 {
					_, err := o.Enqueue(context.Background(), Event{Type: webhook.ReceiveSMS, Phone: 1, DedupeKey: fmt.Sprint("m", i),
						Body: func(id uint64) ([]byte, error) {
							return fmt.Appendf(nil, `{"id":%d,"at":"2026-11-22 10:00:00","text":"queued message %d","destination":1,"origin":"+33612345678","command":false,"mms":false,"medias":[]}`, id, i), nil
						}})
					if err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- o.Run(ctx) }()
		time.Sleep(3 * time.Second) // offline detection and probes over the backlog
		st, err := o.Stats()
		if err != nil || st.Endpoints[0].Pending != n {
			b.Fatalf("stats %+v %v", st, err)
		}
		listed := 0
		_ = o.List(ListFilter{State: StatePending, Limit: 100}, func(DeliveryInfo) error { listed++; return nil })
		cancel()
		<-done
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(procStatusKB("VmHWM")/1024, "peak-RSS-MB")
		b.ReportMetric(procStatusKB("RssAnon")/1024, "anon-RSS-MB")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-inuse-MB")
		if fi, err := os.Stat(o.Path()); err == nil {
			b.ReportMetric(float64(fi.Size())/(1<<20), "file-MB")
		}
		o.Close()
	}
}
