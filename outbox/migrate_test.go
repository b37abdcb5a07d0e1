package outbox

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/simhook/simhook/internal/clock"
	"go.etcd.io/bbolt"
)

// indexed lists the sequence numbers filed in a finished-event index.
func indexed(t *testing.T, o *Outbox, bucket []byte) []uint64 {
	t.Helper()
	var seqs []uint64
	if err := o.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, _ []byte) error {
			if _, seq, ok := finishKeyParts(k); ok {
				seqs = append(seqs, seq)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(seqs)
	return seqs
}

// TestMigrateV1File opens a file written before finished events were
// indexed (testdata/outbox-v1.db, made by the code of cd44804 with a
// clock at 2026-01-01: event 1 delivered then, 2 dead then, 3 pending, 4
// for no endpoint, 5 delivered ten days later). Open files its finished
// events once and records the layout, and retention then deletes each as
// it comes due: delivered ones Retention after their delivery, the dead
// one DeadRetention after it died, the pending one never.
func TestMigrateV1File(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join("testdata", "outbox-v1.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "outbox.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0.Add(10*24*time.Hour + 30*time.Minute))
	o, err := Open(path, Options{Clock: clk, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var version uint64
	_ = o.db.View(func(tx *bbolt.Tx) error { version = getU64(tx.Bucket(metaBucket), schemaKey); return nil })
	if version != schemaVersion {
		t.Errorf("layout %d after Open, want %d", version, schemaVersion)
	}
	if got, want := indexed(t, o, doneBucket), []uint64{1, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("finished events filed %v, want %v", got, want)
	}
	if got, want := indexed(t, o, deadDoneBucket), []uint64{2}; !slices.Equal(got, want) {
		t.Errorf("finished events with a dead delivery filed %v, want %v", got, want)
	}
	checkCounts(t, o)

	steps := []struct {
		at   time.Time
		left []uint64
	}{
		// Retention (1h) after t0: 1 and 4 go; 5 was delivered 30 min ago.
		{t0.Add(10*24*time.Hour + 30*time.Minute), []uint64{2, 3, 5}},
		{t0.Add(10*24*time.Hour + 2*time.Hour), []uint64{2, 3}},
		// DeadRetention (720h, the default) after the dead letter.
		{t0.Add(720*time.Hour - time.Minute), []uint64{2, 3}},
		{t0.Add(720*time.Hour + time.Minute), []uint64{3}},
	}
	for _, s := range steps {
		clk.Set(s.at)
		set := o.settings()
		if _, err := o.prune(clk.Now(), set.Retention, set.DeadRetention); err != nil {
			t.Fatal(err)
		}
		var left []uint64
		_ = o.db.View(func(tx *bbolt.Tx) error {
			return tx.Bucket(eventsBucket).ForEach(func(k, _ []byte) error { left = append(left, seqOf(k)); return nil })
		})
		if !slices.Equal(left, s.left) {
			t.Errorf("at %s: events %v left, want %v", s.at, left, s.left)
		}
	}
	checkCounts(t, o)
	checkFile(t, o.db)
}
