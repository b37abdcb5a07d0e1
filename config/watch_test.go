package config

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/simhook/simhook/internal/clock"
)

// testDebounce is the watchers' debounce in these tests.
const testDebounce = 100 * time.Millisecond

// quiet is how long a test waits to be sure nothing is reported.
const quiet = 5 * testDebounce

// recorder collects a watcher's callbacks.
type recorder struct {
	changes chan *Config
	errs    chan error
}

func newRecorder() *recorder {
	return &recorder{changes: make(chan *Config, 64), errs: make(chan error, 64)}
}

// nextChange waits for a change and returns it.
func (r *recorder) nextChange(t *testing.T) *Config {
	t.Helper()
	select {
	case c := <-r.changes:
		return c
	case err := <-r.errs:
		t.Fatalf("OnError(%v), want OnChange", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no OnChange within 5s")
	}
	return nil
}

// nextError waits for an error and returns it.
func (r *recorder) nextError(t *testing.T) error {
	t.Helper()
	select {
	case c := <-r.changes:
		t.Fatalf("OnChange(user_id %d), want OnError", c.UserID)
	case err := <-r.errs:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("no OnError within 5s")
	}
	return nil
}

// nothing asserts that no callback comes for a while.
func (r *recorder) nothing(t *testing.T, why string) {
	t.Helper()
	select {
	case c := <-r.changes:
		t.Fatalf("%s: unexpected OnChange(user_id %d)", why, c.UserID)
	case err := <-r.errs:
		t.Fatalf("%s: unexpected OnError(%v)", why, err)
	case <-time.After(quiet):
	}
}

// version is a valid configuration told apart by its user_id.
func version(n int) []byte { return []byte("user_id: " + strconv.Itoa(n) + "\n") }

// startWatch writes version 1 to a temp dir and watches it.
func startWatch(t *testing.T, opts WatchOptions) (path string, w *Watcher, r *recorder) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "simhook.yaml")
	if err := os.WriteFile(path, version(1), 0o600); err != nil {
		t.Fatal(err)
	}
	r = newRecorder()
	opts.Debounce = testDebounce
	opts.OnChange = func(c *Config) { r.changes <- c }
	opts.OnError = func(err error) { r.errs <- err }
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	w, err := Watch(ctx, path, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		w.Wait()
	})
	return path, w, r
}

// replace writes data to a temporary name and renames it over path, as
// editors and dpkg do.
func replace(t *testing.T, path, tmpName string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), tmpName)
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestWatchSeesChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		write func(t *testing.T, path string, data []byte)
	}{
		{"write in place", func(t *testing.T, path string, data []byte) {
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"rename over (editor)", func(t *testing.T, path string, data []byte) { replace(t, path, ".simhook.yaml.tmp", data) }},
		{"rename over (dpkg)", func(t *testing.T, path string, data []byte) { replace(t, path, "simhook.yaml.dpkg-new", data) }},
		{"remove then create", func(t *testing.T, path string, data []byte) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _, r := startWatch(t, WatchOptions{})
			for n := 2; n <= 3; n++ {
				tt.write(t, path, version(n))
				if c := r.nextChange(t); c.UserID != n {
					t.Fatalf("OnChange got user_id %d, want %d", c.UserID, n)
				}
			}
			r.nothing(t, "after the last write")
		})
	}
}

func TestWatchIgnoresOtherFiles(t *testing.T) {
	t.Parallel()
	// The running configuration differs from the file, so that any reload
	// at all would be reported.
	running := Default()
	running.UserID = 99
	path, w, r := startWatch(t, WatchOptions{Current: running})
	dir := filepath.Dir(path)
	for _, name := range []string{
		"simhook.yaml.dpkg-new", "simhook.yaml.dpkg-old", "simhook.yaml.dpkg-tmp", "simhook.yaml.dpkg-dist",
		".simhook.yaml.swp", "simhook.yaml~", "#simhook.yaml#", "4913", "other.yaml",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), version(9), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r.nothing(t, "writing temporary and unrelated files")
	if n := w.loads.Load(); n != 0 {
		t.Fatalf("the file was read %d times, want 0", n)
	}
	// The watcher is alive: its own file still counts.
	if err := os.WriteFile(path, version(4), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := r.nextChange(t); c.UserID != 4 {
		t.Fatalf("user_id %d, want 4", c.UserID)
	}
}

func TestWatchIgnoresUnchangedContent(t *testing.T) {
	t.Parallel()
	path, _, r := startWatch(t, WatchOptions{})
	if err := os.WriteFile(path, append([]byte("# a comment\n"), version(1)...), 0o600); err != nil {
		t.Fatal(err)
	}
	r.nothing(t, "rewriting the same configuration")
}

// TestWatchDebounces writes a burst on a fake clock that does not move
// during it, however slowly the machine runs the writes: the burst must give
// one read of the file, of its last version, once the quiet time passes.
func TestWatchDebounces(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	path, w, r := startWatch(t, WatchOptions{Clock: clk})
	for n := 2; n <= 11; n++ {
		if err := os.WriteFile(path, version(n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the watcher has taken in the burst's events: the count
	// stops moving (inotify may merge some of them).
	seen := int64(-1)
	for deadline := time.Now().Add(10 * time.Second); ; {
		time.Sleep(50 * time.Millisecond)
		n := w.events.Load()
		if n > 0 && n == seen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watcher saw %d events of the burst", n)
		}
		seen = n
	}
	if n := w.loads.Load(); n != 0 {
		t.Fatalf("the file was read %d times before the quiet time passed", n)
	}
	clk.Advance(testDebounce)
	if c := r.nextChange(t); c.UserID != 11 {
		t.Fatalf("after a burst, user_id %d, want the last (11)", c.UserID)
	}
	r.nothing(t, "a burst of writes must give one reload")
	if n := w.loads.Load(); n != 1 {
		t.Fatalf("a burst of writes read the file %d times, want once", n)
	}
}

func TestWatchInvalidThenRecovers(t *testing.T) {
	t.Parallel()
	path, _, r := startWatch(t, WatchOptions{})
	replace(t, path, "tmp", []byte("user_id: 2\nbogus: 1\n"))
	err := r.nextError(t)
	checkErrors(t, err, path, []want{{"bogus", 2, "unknown key"}})
	r.nothing(t, "after an invalid file")
	// Going back to the running version after an error is reported, so the
	// caller can clear its error state.
	replace(t, path, "tmp", version(1))
	if c := r.nextChange(t); c.UserID != 1 {
		t.Fatalf("user_id %d, want 1", c.UserID)
	}
	replace(t, path, "tmp", version(5))
	if c := r.nextChange(t); c.UserID != 5 {
		t.Fatalf("user_id %d, want 5", c.UserID)
	}
}

func TestWatchReload(t *testing.T) {
	t.Parallel()
	_, w, r := startWatch(t, WatchOptions{})
	// Reload reports the configuration even when it did not change (SIGHUP
	// means "apply it again", e.g. after a secret file changed).
	for range 2 {
		w.Reload()
		if c := r.nextChange(t); c.UserID != 1 {
			t.Fatalf("Reload: user_id %d, want 1", c.UserID)
		}
	}
	r.nothing(t, "after the reloads")
}

func TestWatchRearmsWhenDirectoryReplaced(t *testing.T) {
	t.Parallel()
	path, _, r := startWatch(t, WatchOptions{RearmInterval: 50 * time.Millisecond})
	dir := filepath.Dir(path)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	// The file is gone: that is an error, and the running config stays.
	if err := r.nextError(t); !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("OnError(%v), want a not-exist error", err)
	}
	time.Sleep(150 * time.Millisecond) // let a few re-arm attempts fail
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, version(7), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := r.nextChange(t); c.UserID != 7 {
		t.Fatalf("after re-arming, user_id %d, want 7", c.UserID)
	}
	if err := os.WriteFile(path, version(8), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := r.nextChange(t); c.UserID != 8 {
		t.Fatalf("the re-armed watch misses writes: user_id %d, want 8", c.UserID)
	}
}

// unwrapAll follows single-error wrapping to the innermost error.
func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

func TestWatchStopsWithContext(t *testing.T) {
	t.Parallel()
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	path := filepath.Join(dir, "simhook.yaml")
	if err := os.WriteFile(path, version(1), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := Watch(ctx, path, WatchOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	done := make(chan struct{})
	go func() { w.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher did not stop when its context ended")
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close after stop: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after stopping, %d before: a goroutine leaked", n, before)
	}
}

func TestWatchMissingDirectory(t *testing.T) {
	t.Parallel()
	_, err := Watch(context.Background(), filepath.Join(t.TempDir(), "nope", "simhook.yaml"), WatchOptions{})
	if err == nil {
		t.Fatal("Watch of a file in a missing directory succeeded")
	}
}

func TestIsTempFile(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"simhook.yaml", false},
		{"simhook.yml", false},
		{"simhook.yaml.dpkg-new", true},
		{"simhook.yaml.dpkg-old", true},
		{"simhook.yaml.dpkg-tmp", true},
		{"simhook.yaml.dpkg-dist", true},
		{"simhook.yaml.ucf-dist", true},
		{".simhook.yaml.swp", true},
		{".simhook.yaml.swx", true},
		{"simhook.yaml~", true},
		{"#simhook.yaml#", true},
		{".#simhook.yaml", true},
		{"4913", true},
		{"5036", false},
	}
	for _, tt := range tests {
		if got := IsTempFile(tt.name); got != tt.want {
			t.Errorf("IsTempFile(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
