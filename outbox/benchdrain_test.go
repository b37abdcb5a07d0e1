package outbox

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
	"go.etcd.io/bbolt"
)

// fillQueue stores n events for the configured endpoints through the same
// code as Enqueue, 10,000 to a transaction (a bulk load for benchmarks).
func fillQueue(tb testing.TB, o *Outbox, from, n int) {
	tb.Helper()
	for done := 0; done < n; {
		m := min(10000, n-done)
		plans := make([]enqueuePlan, m)
		for i := range plans {
			p, err := o.plan(benchEvent(int64(from + done + i)))
			if err != nil {
				tb.Fatal(err)
			}
			plans[i] = p
		}
		err := o.db.Update(func(tx *bbolt.Tx) error {
			for i := range plans {
				if _, err := plans[i].store(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		done += m
	}
}

// countingServer answers 204 to everything and counts requests.
func countingServer(tb testing.TB) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	tb.Cleanup(srv.Close)
	return srv, &n
}

func benchEndpoint(url string) Endpoint {
	return Endpoint{Endpoint: webhook.Endpoint{Name: "bench", URL: url, Secrets: []string{testSecret}}}
}

// BenchmarkDrain100k drains 100,000 queued events to a loopback receiver,
// from Run's start to the last acknowledgement committed.
func BenchmarkDrain100k(b *testing.B) {
	const n = 100000
	for _, conc := range []int{4, 16} {
		b.Run(fmt.Sprint("concurrency=", conc), func(b *testing.B) {
			var total time.Duration
			for range b.N {
				srv, _ := countingServer(b)
				o, err := Open(filepath.Join(b.TempDir(), "o.db"), Options{Concurrency: conc})
				if err != nil {
					b.Fatal(err)
				}
				if err := o.SetEndpoints([]Endpoint{benchEndpoint(srv.URL)}); err != nil {
					b.Fatal(err)
				}
				fillQueue(b, o, 0, n)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				start := time.Now()
				go func() { done <- o.Run(ctx) }()
				for o.Metrics().Deliveries["bench"][OutcomeDelivered] < n {
					time.Sleep(5 * time.Millisecond)
				}
				total += time.Since(start)
				cancel()
				<-done
				if err := o.Close(); err != nil {
					b.Fatal(err)
				}
				srv.Close()
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s")
		})
	}
}

// rssChildEnv makes the test binary open a big outbox and dispatch from it.
const rssChildEnv = "SIMHOOK_OUTBOX_RSS_CHILD"

// BenchmarkQueued1MRSS builds a file with 1,000,000 queued events, then in
// a fresh process (so the bulk load does not count) opens it, reads Stats,
// lists a page, and delivers 50,000 of the backlog to a loopback receiver;
// it reports that process's peak RSS (VmHWM, which counts the pages of the
// memory-mapped file it touched), its peak anonymous RSS (its own memory)
// and Go heap.
func BenchmarkQueued1MRSS(b *testing.B) {
	const queued, send = 1000000, 50000
	for range b.N {
		srv, got := countingServer(b)
		path := filepath.Join(b.TempDir(), "o.db")
		o, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := o.SetEndpoints([]Endpoint{benchEndpoint(srv.URL)}); err != nil {
			b.Fatal(err)
		}
		fillQueue(b, o, 0, queued)
		if err := o.Close(); err != nil {
			b.Fatal(err)
		}
		fi, _ := os.Stat(path)
		cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
		cmd.Env = append(os.Environ(), rssChildEnv+"="+path, rssChildEnv+"_URL="+srv.URL, rssChildEnv+"_SEND="+strconv.Itoa(send))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("child: %v: %s", err, out)
		}
		vals := make(map[string]float64)
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok {
				vals[k], _ = strconv.ParseFloat(v, 64)
			}
		}
		if vals["pending"] != queued || got.Load() < send {
			b.Fatalf("child saw %v pending and sent %d: %s", vals["pending"], got.Load(), out)
		}
		b.ReportMetric(vals["vmhwm_kb"]/1024, "peak-RSS-MB")
		b.ReportMetric(vals["vmhwm_stats_kb"]/1024, "RSS-after-stats-MB")
		b.ReportMetric(vals["anon_peak_kb"]/1024, "anon-RSS-MB")
		b.ReportMetric(vals["heap_peak_mb"], "heap-MB")
		b.ReportMetric(float64(fi.Size())/(1<<20), "file-MB")
		b.ReportMetric(vals["stats_ms"], "stats-ms")
	}
}

// rssChild is the child process of BenchmarkQueued1MRSS.
func rssChild(path string) {
	fail := func(err error) { fmt.Println("error=", err); os.Exit(1) }
	o, err := Open(path, Options{})
	if err != nil {
		fail(err)
	}
	if err := o.SetEndpoints([]Endpoint{benchEndpoint(os.Getenv(rssChildEnv + "_URL"))}); err != nil {
		fail(err)
	}
	t0 := time.Now()
	st, err := o.Stats()
	if err != nil {
		fail(err)
	}
	statsTime := time.Since(t0)
	hwmAfterStats := procStatus("VmHWM:")
	if err := o.List(ListFilter{State: StatePending, Limit: 100}, func(DeliveryInfo) error { return nil }); err != nil {
		fail(err)
	}
	send, _ := strconv.Atoi(os.Getenv(rssChildEnv + "_SEND"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	var heapPeak uint64
	anonPeak := procStatus("RssAnon:")
	for o.Metrics().Deliveries["bench"][OutcomeDelivered] < uint64(send) {
		heapPeak = max(heapPeak, heapInUse())
		anonPeak = max(anonPeak, procStatus("RssAnon:"))
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	heapPeak = max(heapPeak, heapInUse())
	anonPeak = max(anonPeak, procStatus("RssAnon:"))
	_ = o.Close()
	fmt.Printf("pending=%d\nvmhwm_kb=%d\nvmhwm_stats_kb=%d\nanon_peak_kb=%d\nheap_peak_mb=%.1f\nstats_ms=%.3f\n",
		st.Endpoints[0].Pending, procStatus("VmHWM:"), hwmAfterStats, anonPeak, float64(heapPeak)/(1<<20), float64(statsTime.Microseconds())/1000)
}

// procStatus reads a kB figure of /proc/self/status (VmHWM: the peak
// resident set, file-backed pages of the mmap included; RssAnon: the
// process's own memory now).
func procStatus(field string) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return -1
}
