package outbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/simhook/simhook/internal/testpar"
	"github.com/simhook/simhook/webhook"
	"go.etcd.io/bbolt"
)

// crashChildEnv makes the test binary act as a child that enqueues forever.
const crashChildEnv = "SIMHOOK_OUTBOX_CRASH_CHILD"

// TestMain runs the child processes some tests start, or else the tests,
// eight at a time unless -parallel is given: most wait on local HTTP,
// child processes and fsync, and the default (GOMAXPROCS, 2 on the CI
// machine) would leave them queueing behind each other's waits.
func TestMain(m *testing.M) {
	if os.Getenv(checkChildEnv) != "" {
		checkChild()
		return
	}
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	if path := os.Getenv(rssChildEnv); path != "" {
		rssChild(path)
		return
	}
	testpar.Raise(8)
	os.Exit(m.Run())
}

// crashChild enqueues events from 8 goroutines and prints each key once
// Enqueue has returned, until it is killed.
func crashChild(path string) {
	o, err := Open(path, Options{})
	if err == nil {
		// A delivery per event too, so the crash hits multi-bucket writes.
		err = o.SetEndpoints([]Endpoint{{Endpoint: webhook.Endpoint{Name: "crash", URL: "http://127.0.0.1:1/", Secrets: []string{"s"}}}})
	}
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	start, _ := strconv.Atoi(os.Getenv(crashChildEnv + "_START"))
	out := make(chan string, 64)
	for w := range 8 {
		go func() {
			for i := start + w; ; i += 8 {
				key := fmt.Sprint("c", i)
				_, err := o.Enqueue(context.Background(), Event{Type: webhook.ReceiveSMS, DedupeKey: key,
					Body: func(id uint64) ([]byte, error) { return fmt.Appendf(nil, `{"id":%d}`, id), nil }})
				if err != nil {
					out <- "ERR " + err.Error()
					return
				}
				out <- key
			}
		}()
	}
	for line := range out {
		fmt.Println(line)
	}
}

// TestSIGKILLLosesNothing kills an enqueuing child 20 times at random
// moments; after each kill the reopened file holds every event whose
// enqueue returned, no key twice, and checks clean.
func TestSIGKILLLosesNothing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "outbox.db")
	acked := make(map[string]bool)
	next := 0
	for trial := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashChildEnv+"_START="+strconv.Itoa(next))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		kill := time.After(time.Duration(50+rand.IntN(200)) * time.Millisecond)
	read:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					break read
				}
				if strings.HasPrefix(line, "ERR") {
					t.Fatalf("trial %d: child: %s", trial, line)
				}
				acked[line] = true
			case <-kill:
				_ = cmd.Process.Signal(syscall.SIGKILL)
				kill = nil
			}
		}
		_ = cmd.Wait()
		next += 100000

		// A kill before the child's Open created the file, or wrote its
		// first pages, leaves no file or an empty one, which a read-only
		// Open cannot initialise. Nothing can have been acknowledged then.
		if fi, err := os.Stat(path); errors.Is(err, os.ErrNotExist) || err == nil && fi.Size() == 0 {
			if len(acked) > 0 {
				t.Fatalf("trial %d: the file is empty but %d events were acknowledged", trial, len(acked))
			}
			continue
		}
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		// A kill after bbolt initialised the file but before Open committed
		// the outbox's buckets leaves a valid file without them. Open had
		// not returned, so nothing can have been acknowledged then either.
		var laidOut bool
		_ = db.View(func(tx *bbolt.Tx) error { laidOut = tx.Bucket(dedupeBucket) != nil; return nil })
		if !laidOut {
			db.Close()
			if len(acked) > 0 {
				t.Fatalf("trial %d: the file has no outbox buckets but %d events were acknowledged", trial, len(acked))
			}
			continue
		}
		checkFile(t, db)
		stored := make(map[string]int)
		_ = db.View(func(tx *bbolt.Tx) error {
			return tx.Bucket(dedupeBucket).ForEach(func(k, _ []byte) error { stored[string(k)]++; return nil })
		})
		events := 0
		_ = db.View(func(tx *bbolt.Tx) error {
			events = tx.Bucket(eventsBucket).Stats().KeyN
			if cv := counts(tx); cv.events != events || cv.pending["crash"] != events {
				t.Errorf("trial %d: counters say %d events, %d pending; the file holds %d", trial, cv.events, cv.pending["crash"], events)
			}
			return nil
		})
		db.Close()
		for k := range acked {
			if stored[k] == 0 {
				t.Fatalf("trial %d: acknowledged event %s lost", trial, k)
			}
		}
		if events != len(stored) {
			t.Fatalf("trial %d: %d events for %d keys", trial, events, len(stored))
		}
	}
	t.Logf("%d acknowledged events over 20 kills, none lost", len(acked))
}
