package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrDamaged marks an outbox file that cannot be used: bbolt refuses it,
// panics on it, or its records do not decode. A damaged file is moved aside
// (see OpenChecked), never repaired in place or deleted.
var ErrDamaged = errors.New("outbox: damaged file")

// Checker decides whether the file at path is usable. It returns nil for a
// sound file and an error wrapping ErrDamaged for a damaged one; any other
// error means it could not tell (the file is then opened as it is).
type Checker func(ctx context.Context, path string) error

// CheckFile checks the file in this process: it opens it read-only and
// walks every bucket, decoding the outbox's records. bbolt panics on some
// damage and a truncated file can fault its memory map, so the walk runs on
// a goroutine of its own that turns faults into panics and panics into
// ErrDamaged. It cannot survive everything a damaged file can do (a count
// that asks for terabytes, a loop of pages); ChildChecker can.
func CheckFile(ctx context.Context, path string) error {
	done := make(chan error, 1)
	go func() {
		debug.SetPanicOnFault(true)
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("%w: %s: %v", ErrDamaged, path, r)
			}
		}()
		done <- checkWalk(path, false)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// The walk goroutine is left to finish or fault on its own; it
		// only reads.
		return fmt.Errorf("%w: %s: the check did not finish: %v", ErrDamaged, path, ctx.Err())
	}
}

// CheckFileFull is CheckFile with bbolt's own consistency check (page
// reachability, freelist, key order) as well. bbolt runs that check on a
// goroutine of its own, where a panic cannot be recovered, so this is for a
// process that may die: `simhook outbox check`, and ChildChecker's child.
func CheckFileFull(path string) error {
	return checkWalk(path, true)
}

// checkWalk opens path read-only and reads everything in it.
func checkWalk(path string, full bool) error {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 2 * time.Second, PreLoadFreelist: full})
	if err != nil {
		if isDamage(err) {
			return fmt.Errorf("%w: %s: %v", ErrDamaged, path, err)
		}
		return fmt.Errorf("outbox: check %s: %w", path, err)
	}
	defer db.Close()
	if fi, err := os.Stat(path); err == nil && fi.Size()%int64(db.Info().PageSize) != 0 {
		// bbolt only ever grows its file by whole pages.
		return fmt.Errorf("%w: %s: %d bytes is not a whole number of %d-byte pages (cut short)", ErrDamaged, path, fi.Size(), db.Info().PageSize)
	}
	return db.View(func(tx *bbolt.Tx) error {
		if full {
			var problems []string
			for err := range tx.Check() {
				problems = append(problems, err.Error())
				if len(problems) >= 10 {
					break
				}
			}
			if len(problems) > 0 {
				return fmt.Errorf("%w: %s: %s", ErrDamaged, path, strings.Join(problems, "; "))
			}
		}
		if err := walkRecords(tx); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrDamaged, path, err)
		}
		return nil
	})
}

// walkRecords reads every key and value of every bucket and decodes the
// outbox's events and deliveries.
func walkRecords(tx *bbolt.Tx) error {
	var walk func(name string, b *bbolt.Bucket) error
	walk = func(name string, b *bbolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				child := b.Bucket(k)
				if child == nil {
					return fmt.Errorf("bucket %s: key %x is neither a value nor a bucket", name, k)
				}
				return walk(name+"/"+string(k), child)
			}
			switch name {
			case string(eventsBucket):
				var e eventRecord
				if err := json.Unmarshal(v, &e); err != nil || len(k) != 8 || e.Seq != getU64Key(k) {
					return fmt.Errorf("event %x does not decode", k)
				}
			case string(deliveriesBucket):
				var d deliveryRecord
				if err := json.Unmarshal(v, &d); err != nil || len(k) < 9 {
					return fmt.Errorf("delivery %x does not decode", k)
				}
			}
			return nil
		})
	}
	return tx.ForEach(func(name []byte, b *bbolt.Bucket) error { return walk(string(name), b) })
}

// getU64Key reads an 8-byte big-endian key.
func getU64Key(k []byte) uint64 {
	var n uint64
	for _, c := range k {
		n = n<<8 | uint64(c)
	}
	return n
}

// isDamage tells bbolt's errors about the file's content from the others
// (permissions, a lock held by another process).
func isDamage(err error) bool {
	if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) || errors.Is(err, berrors.ErrInvalidMapping) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "file size too small") || strings.Contains(s, "invalid") || strings.Contains(s, "page")
}

// ChildCheckExit is the exit status of `simhook outbox check` for a file it
// found damaged; any other failure of the child also counts as damage.
const ChildCheckExit = 3

// CheckBudget is how long a check of a file of size bytes may take: a few
// seconds, plus the time to read the file at the slowest SD card's speed.
// A check still running after that is walking something damaged in circles
// (a corrupted page that points back at itself, a count in the billions).
func CheckBudget(size int64) time.Duration {
	const slowRead = 5 << 20 // bytes per second
	return 5*time.Second + time.Duration(size/slowRead)*time.Second
}

// ChildChecker runs the check as `exe args... FILE` in a child process, so
// that nothing a damaged file does to the reader (a fatal fault, a runaway
// allocation, a hang) reaches the agent. The child exits 0 for a sound file;
// any other end, or taking longer than budget(file size), means damaged.
func ChildChecker(exe string, args []string, budget func(size int64) time.Duration) Checker {
	return func(ctx context.Context, path string) error {
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("outbox: check: %w", err)
		}
		timeout := budget(fi.Size())
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, exe, append(append([]string(nil), args...), path)...)
		cmd.Env = append(os.Environ(), "GOTRACEBACK=single")
		out, err := cmd.CombinedOutput()
		if err == nil {
			return nil
		}
		msg := strings.TrimSpace(string(out))
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i]
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %s: the check took longer than %s", ErrDamaged, path, timeout)
		}
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return fmt.Errorf("outbox: could not run the check of %s: %w", path, err)
		}
		return fmt.Errorf("%w: %s: check: %v: %s", ErrDamaged, path, err, msg)
	}
}
