package outbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/internal/damage"
	"github.com/simhook/simhook/webhook"
)

// checkChildEnv makes the test binary act as `simhook outbox check FILE`.
const checkChildEnv = "SIMHOOK_OUTBOX_CHECK_CHILD"

// checkChild is the child side of ChildChecker in these tests.
func checkChild() {
	if err := CheckFileFull(os.Args[len(os.Args)-1]); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		if errors.Is(err, ErrDamaged) {
			os.Exit(ChildCheckExit)
		}
		os.Exit(1)
	}
	os.Exit(0)
}

// writeOutbox makes an outbox file with n events pending for one endpoint
// (nothing runs the dispatcher), and closes it.
func writeOutbox(t *testing.T, path string, n int) {
	t.Helper()
	o, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ep := Endpoint{Endpoint: webhook.Endpoint{Name: "crm", URL: "http://127.0.0.1:9/", Secrets: []string{testSecret}}}
	if err := o.SetEndpoints([]Endpoint{ep}); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, o, 0, n)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenCheckedDamagedFiles damages an outbox file in each of the ways a
// power cut does and opens it, with the in-process check and with the
// child-process check the daemon uses. The process must survive; a file
// found damaged is moved aside under a dated name and listed in stats; the
// fresh outbox takes events; and salvage reads back what the damaged file
// still holds. (Before, Open panicked or failed on every one of them.)
func TestOpenCheckedDamagedFiles(t *testing.T) {
	checkers := []struct {
		name  string
		check Checker
	}{
		{"in-process", nil},
		{"child process", ChildChecker(os.Args[0], nil, func(int64) time.Duration { return time.Minute })},
	}
	t.Setenv(checkChildEnv, "1")
	for _, ck := range checkers {
		for i, k := range damage.Kinds {
			t.Run(ck.name+"/"+k.Name, func(t *testing.T) {
				t.Parallel() // among themselves: the parent's Setenv keeps the others out
				dir := t.TempDir()
				path := filepath.Join(dir, "outbox.db")
				writeOutbox(t, path, 200)
				if err := k.Apply(path, uint64(i+1)); err != nil {
					t.Fatal(err)
				}
				o, dmg, err := OpenChecked(context.Background(), path, Options{}, ck.check)
				if err != nil {
					t.Fatalf("OpenChecked: %v", err)
				}
				defer o.Close()
				if _, err := o.Enqueue(context.Background(), benchEventKey(100000)); err != nil {
					t.Fatalf("the outbox takes no event after %s: %v", k.Name, err)
				}
				if dmg == nil {
					// Damage that touched only space the file does not use
					// (a tail bbolt had preallocated, free pages): the file
					// passed the full check, and then everything in it must
					// still be there.
					st, err := o.Stats()
					if err != nil {
						t.Fatal(err)
					}
					listed := 0
					if err := o.List(ListFilter{Limit: 1000}, func(DeliveryInfo) error { listed++; return nil }); err != nil {
						t.Fatal(err)
					}
					t.Logf("%s: not detected; %d events counted, %d deliveries read", k.Name, st.Events, listed)
					if st.Events != 201 || listed != 200 || len(st.Damaged) != 0 {
						t.Errorf("%s passed the check but the outbox holds %d of 201 events (%d of 200 deliveries read)", k.Name, st.Events, listed)
					}
					return
				}
				if !strings.HasPrefix(filepath.Base(dmg.Path), "outbox.db.damaged-") {
					t.Errorf("moved aside as %s", dmg.Path)
				}
				if _, err := os.Stat(dmg.Path); err != nil {
					t.Errorf("the damaged file is gone: %v", err)
				}
				st, err := o.Stats()
				if err != nil {
					t.Fatal(err)
				}
				if len(st.Damaged) != 1 || st.Damaged[0].Path != dmg.Path {
					t.Errorf("stats list %+v", st.Damaged)
				}
				if o.Metrics().Damaged != 1 {
					t.Errorf("damaged metric %d", o.Metrics().Damaged)
				}
				scan, err := ScanFile(dmg.Path)
				if err != nil {
					t.Logf("scan: %v", err)
				}
				todo, delivered, orphans := scan.Undelivered()
				t.Logf("%s: %s; salvage finds %d owed, %d delivered, %d without deliveries, %d unreadable", k.Name, dmg.Reason, len(todo), delivered, orphans, scan.Unreadable)
				if k.Name == "truncate one byte short" && len(todo) < 195 {
					t.Errorf("salvage found %d of 200 events in a file one byte short", len(todo))
				}
				queued := 0
				for _, s := range todo {
					ok, err := o.Import(context.Background(), s)
					if err != nil {
						t.Fatalf("import: %v", err)
					}
					if ok {
						queued++
					}
				}
				if len(todo) == 0 {
					return
				}
				if again, _ := o.Import(context.Background(), todo[0]); again {
					t.Error("the same salvaged event was queued twice")
				}
				if st, _ := o.Stats(); st.Events != 1+queued {
					t.Errorf("%d events after importing %d", st.Events, queued)
				}
			})
		}
	}
}
