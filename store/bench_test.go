package store

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// seedFinished writes n finished send requests, with their references and
// indexes, in large transactions, as months of traffic would leave them.
func seedFinished(b *testing.B, s *Store, n int, at time.Time) {
	b.Helper()
	const batch = 20000
	ctx := context.Background()
	for done := 0; done < n; {
		k := min(batch, n-done)
		err := s.update(ctx, func(tx *bbolt.Tx) error {
			ids := tx.Bucket(activeBucket) // where AddSend takes ids
			for i := range k {
				id, err := ids.NextSequence()
				if err != nil {
					return err
				}
				r := Send{ID: id, To: "+33612345678", Text: "history", State: Sent, Status: "delivered",
					UsedPhone: 1 + i%16, Refs: []int{int(id % 256)}, Parts: []string{"delivered"}, Attempts: 1,
					Created: at, SentAt: at.Add(time.Duration(done+i) * time.Millisecond)}
				if err := putSend(tx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		done += k
	}
}

// BenchmarkSendPath measures the store's part of one send, from the
// request to its committed outcome (AddSend, Due, Begin, two progress
// saves, the final save); within it, the part up to the hand-over to the
// modem (AddSend, Due, Begin, the hand-over save: handover-ns/op); and the
// idle work (Due and Prune with nothing due), on an empty file and on one holding SIMHOOK_BENCH_HISTORY finished
// requests (default 1,000,000). The goal is the same cost on both.
//
//	go test -run '^$' -bench SendPath -benchtime 2000x ./store/
func BenchmarkSendPath(b *testing.B) {
	history := 1_000_000
	if v := os.Getenv("SIMHOOK_BENCH_HISTORY"); v != "" {
		history, _ = strconv.Atoi(v)
	}
	for _, n := range []int{0, history} {
		b.Run(fmt.Sprintf("history=%d", n), func(b *testing.B) {
			s, _ := openTest(b)
			now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			seedFinished(b, s, n, now.Add(-24*time.Hour))
			ctx := context.Background()
			ret := Retention{Sends: 168 * time.Hour, MalformedAge: DefaultMalformedAge, MalformedCount: DefaultMalformedCount, Reports: DefaultReportAge}
			var idle, handover time.Duration
			b.ResetTimer()
			for i := range b.N {
				h0 := time.Now()
				r, err := s.AddSend(ctx, Send{To: "+33612345678", Text: "hello", StatusReport: true, Created: now})
				if err != nil {
					b.Fatal(err)
				}
				due, _, _, err := s.Due(now, 0)
				if err != nil || len(due) != 1 {
					b.Fatalf("due %d, %v", len(due), err)
				}
				r, err = s.Begin(ctx, r.ID, 1, 0, now)
				if err != nil {
					b.Fatal(err)
				}
				r.Handed = 1
				if err := s.SaveSend(ctx, r); err != nil {
					b.Fatal(err)
				}
				handover += time.Since(h0)
				r.Refs = []int{i % 256}
				if err := s.SaveSend(ctx, r); err != nil {
					b.Fatal(err)
				}
				r.State, r.Status, r.SentAt, r.Parts = Sent, "unknown", now, []string{""}
				if err := s.SaveSend(ctx, r); err != nil {
					b.Fatal(err)
				}
				// Idle work: what the queue and the retention loop do
				// when nothing is due.
				t0 := time.Now()
				if due, _, _, err := s.Due(now, 0); err != nil || len(due) != 0 {
					b.Fatalf("due after the send: %d, %v", len(due), err)
				}
				if _, _, err := s.Prune(ctx, now, ret); err != nil {
					b.Fatal(err)
				}
				idle += time.Since(t0)
			}
			b.ReportMetric(float64(idle.Nanoseconds())/float64(b.N), "idle-ns/op")
			b.ReportMetric(float64(handover.Nanoseconds())/float64(b.N), "handover-ns/op")
		})
	}
}
