package outbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/simhook/simhook/webhook"
	"go.etcd.io/bbolt"
)

// mountTmpfs mounts a small tmpfs for the test, or skips.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root and mount rights): %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestDiskFull fills a 1 MiB tmpfs: the failing Enqueue wraps ENOSPC and
// stores nothing, every event that was acknowledged is there, the file
// checks clean, and once space is freed enqueues work again.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	dir := mountTmpfs(t, "1m")
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 256<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "outbox", "outbox.db")
	o, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("x", 2000)
	ev := func(i int) Event {
		return Event{Type: webhook.ReceiveSMS, DedupeKey: fmt.Sprint("full", i),
			Body: func(id uint64) ([]byte, error) { return fmt.Appendf(nil, `{"id":%d,"text":%q}`, id, text), nil }}
	}
	acked := 0
	var fullErr error
	for i := range 10000 {
		if _, err := o.Enqueue(context.Background(), ev(i)); err != nil {
			fullErr = err
			break
		}
		acked++
	}
	if fullErr == nil {
		t.Fatal("10000 events of 2 kB fit in 1 MiB")
	}
	if !errors.Is(fullErr, syscall.ENOSPC) {
		t.Fatalf("enqueue on a full disk: %v, want ENOSPC", fullErr)
	}
	t.Logf("%d events acknowledged, then: %v", acked, fullErr)
	if m := o.Metrics(); m.EnqueueErrors != 1 {
		t.Errorf("enqueue errors counted: %d", m.EnqueueErrors)
	}
	countEvents := func(db *bbolt.DB) (events, keys int) {
		_ = db.View(func(tx *bbolt.Tx) error {
			events = tx.Bucket(eventsBucket).Stats().KeyN
			keys = tx.Bucket(dedupeBucket).Stats().KeyN
			return nil
		})
		return events, keys
	}
	if e, k := countEvents(o.db); e != acked || k != acked {
		t.Fatalf("after the failure: %d events and %d dedupe keys, want %d", e, k, acked)
	}
	checkFile(t, o.db)

	// Space comes back: the same event now goes in.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Enqueue(context.Background(), ev(acked)); err != nil {
		t.Fatalf("enqueue after freeing space: %v", err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkFile(t, db)
	if e, _ := countEvents(db); e != acked+1 {
		t.Fatalf("reopened: %d events, want %d", e, acked+1)
	}
}
