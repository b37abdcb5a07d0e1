package outbox

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
	"go.etcd.io/bbolt"
)

// fillDelivered stores n events already delivered to endpoint at done, as
// the dispatcher leaves them (event, delivered record, dedupe key,
// finished-event entry, counters), 10,000 to a transaction, without going
// through the dispatcher: a history for benchmarks, built in seconds.
func fillDelivered(tb testing.TB, o *Outbox, n int, endpoint string, done time.Time) {
	tb.Helper()
	for from := 0; from < n; from += 10000 {
		m := min(10000, n-from)
		err := o.db.Update(func(tx *bbolt.Tx) error {
			events, deliveries := tx.Bucket(eventsBucket), tx.Bucket(deliveriesBucket)
			dedupe, age, finished := tx.Bucket(dedupeBucket), tx.Bucket(dedupeAgeBucket), tx.Bucket(doneBucket)
			ids := tx.Bucket(idsBucket).Bucket([]byte(webhook.ReceiveSMS))
			for _, b := range []*bbolt.Bucket{events, deliveries, age, finished} {
				b.FillPercent = appendFill
			}
			for i := range m {
				seq, id := events.Sequence()+1, ids.Sequence()+1
				key := fmt.Sprint("h", from+i)
				ev, err := json.Marshal(eventRecord{Seq: seq, Type: webhook.ReceiveSMS, ID: id, Phone: 1, Time: done, DedupeKey: key,
					Body: fmt.Appendf(nil, `{"id":%d,"phone":1,"origin":"+33600000000","text":"history %d"}`, id, from+i)})
				if err != nil {
					return err
				}
				rid, err := webhook.NewRandomID(done.Unix())
				if err != nil {
					return err
				}
				d, err := json.Marshal(deliveryRecord{Endpoint: endpoint, RandomID: rid, State: StateDelivered, Attempts: 0, LastStatus: 204,
					LastAttempt: done, Created: done, NextDue: done, Done: done})
				if err != nil {
					return err
				}
				if err := events.SetSequence(seq); err != nil {
					return err
				}
				if err := ids.SetSequence(id); err != nil {
					return err
				}
				if err := events.Put(u64(seq), ev); err != nil {
					return err
				}
				if err := deliveries.Put(deliveryKey(seq, endpoint), d); err != nil {
					return err
				}
				v := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(u64(seq), id), uint64(done.Unix()))
				if err := dedupe.Put([]byte(key), v); err != nil {
					return err
				}
				if err := age.Put(dedupeAgeKey(done, key), nil); err != nil {
					return err
				}
				if err := finished.Put(finishKey(done, seq), nil); err != nil {
					return err
				}
			}
			for _, c := range []string{"events", "type/" + string(webhook.ReceiveSMS), "delivered/" + endpoint} {
				if err := addCount(tx, c, int64(m)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkLatencyHistory measures the latency of one event, from Enqueue
// to Enqueue's return, to its arrival at a loopback receiver and to its
// outcome committed, one
// event at a time, with an empty file and with one holding 1,000,000
// delivered events (inside their retention), and how many pages the
// file's transactions wrote per event (the trees are deeper, so a commit
// writes a few more pages: the cost grows with the logarithm of the
// history). Run it with -benchtime 1x: each run builds its file and sends
// 2,000 events.
func BenchmarkLatencyHistory(b *testing.B) {
	const events = 2000
	for _, history := range []int{0, 1000000} {
		b.Run(fmt.Sprint("history=", history), func(b *testing.B) {
			var enqueue, arrive, commit []time.Duration
			var written float64 // pages written per event
			for range b.N {
				got := make(chan struct{}, 1)
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(http.StatusNoContent)
					got <- struct{}{}
				}))
				o, err := Open(filepath.Join(b.TempDir(), "o.db"), Options{TimeSynced: func() bool { return true }})
				if err != nil {
					b.Fatal(err)
				}
				if err := o.SetEndpoints([]Endpoint{benchEndpoint(srv.URL)}); err != nil {
					b.Fatal(err)
				}
				fillDelivered(b, o, history, "bench", time.Now().Add(-time.Hour))
				ctx, cancel := context.WithCancel(context.Background())
				ran := make(chan error, 1)
				go func() { ran <- o.Run(ctx) }()
				b.ResetTimer()
				s0 := o.db.Stats()
				for i := range events {
					start := time.Now()
					if _, err := o.Enqueue(ctx, benchEvent(int64(i))); err != nil {
						b.Fatal(err)
					}
					enqueue = append(enqueue, time.Since(start))
					<-got
					arrive = append(arrive, time.Since(start))
					for o.Metrics().Deliveries["bench"][OutcomeDelivered] < uint64(i+1) {
						time.Sleep(20 * time.Microsecond)
					}
					commit = append(commit, time.Since(start))
				}
				b.StopTimer()
				s1 := o.db.Stats()
				d := s1.Sub(&s0)
				written += float64(d.TxStats.GetWrite()) / events
				cancel()
				<-ran
				if st, err := o.Stats(); err != nil || st.Events != history+events {
					b.Fatalf("stats %+v, %v", st, err)
				}
				if err := o.Close(); err != nil {
					b.Fatal(err)
				}
				srv.Close()
			}
			for _, m := range []struct {
				name string
				ds   []time.Duration
			}{{"enqueue", enqueue}, {"arrive", arrive}, {"commit", commit}} {
				slices.Sort(m.ds)
				b.ReportMetric(float64(m.ds[len(m.ds)/2].Microseconds()), m.name+"-p50-µs")
				b.ReportMetric(float64(m.ds[len(m.ds)*99/100].Microseconds()), m.name+"-p99-µs")
			}
			b.ReportMetric(written/float64(b.N), "pages/event")
			b.ReportMetric(0, "ns/op")
		})
	}
}
