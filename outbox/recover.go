package outbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"
)

// Damaged describes an outbox file found damaged and moved aside.
type Damaged struct {
	// Path is where the damaged file now is.
	Path string `json:"path"`
	// At is when it was moved aside.
	At time.Time `json:"at"`
	// Reason is what the check found.
	Reason string `json:"reason"`
}

// damagedMetaPrefix keeps, in the fresh file's meta bucket, the files moved
// aside, so that stats name them until an operator has seen to them.
const damagedMetaPrefix = "damaged/"

// OpenChecked opens the outbox at path like Open, but first checks the file
// with check (nil means CheckFile); a damaged file, or one that Open itself
// refuses or panics on, is moved aside as path.damaged-<UTC time> and a
// fresh outbox is made in its place, so that a corrupted SD card costs the
// events in that file (which `simhook outbox salvage` reads back) but never
// the agent. It returns the moved file's description, or nil.
func OpenChecked(ctx context.Context, path string, opts Options, check Checker) (*Outbox, *Damaged, error) {
	if check == nil {
		check = CheckFile
	}
	var damaged *Damaged
	if _, err := os.Stat(path); err == nil {
		if err := check(ctx, path); errors.Is(err, ErrDamaged) {
			d, merr := moveAside(path, err, opts)
			if merr != nil {
				return nil, nil, merr
			}
			damaged = d
		} else if err != nil {
			opts.withDefaults().Logger.Warn("could not check the outbox file; opening it as it is", "path", path, "err", err)
		}
	}
	o, err := openGuarded(path, opts)
	if errors.Is(err, ErrDamaged) && damaged == nil {
		d, merr := moveAside(path, err, opts)
		if merr != nil {
			return nil, nil, merr
		}
		damaged = d
		o, err = openGuarded(path, opts)
	}
	if err != nil {
		return nil, nil, err
	}
	if damaged != nil {
		if err := o.recordDamaged(*damaged); err != nil {
			o.opts.Logger.Error("recording the damaged outbox file", "err", err)
		}
	}
	return o, damaged, nil
}

// openGuarded is Open with bbolt's panics and faults turned into ErrDamaged.
func openGuarded(path string, opts Options) (o *Outbox, err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if r := recover(); r != nil {
			o, err = nil, fmt.Errorf("%w: %s: opening: %v", ErrDamaged, path, r)
		}
	}()
	o, err = Open(path, opts)
	if err != nil && !errors.Is(err, ErrDamaged) && isDamage(errors.Unwrap(err)) {
		err = fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	return o, err
}

// moveAside renames the damaged file within its directory and makes the
// rename durable.
func moveAside(path string, cause error, opts Options) (*Damaged, error) {
	opts = opts.withDefaults()
	now := time.Now().UTC()
	dst := path + ".damaged-" + now.Format("20060102T150405Z")
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, os.ErrNotExist) {
			break
		}
		dst = fmt.Sprintf("%s.damaged-%s-%d", path, now.Format("20060102T150405Z"), i)
	}
	if err := os.Rename(path, dst); err != nil {
		return nil, fmt.Errorf("outbox: moving the damaged file aside: %w", err)
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	opts.Logger.Error("the outbox file is damaged: moved aside, starting a fresh outbox; undelivered events in it can be re-queued with `simhook outbox salvage`",
		"damaged", dst, "reason", cause.Error())
	return &Damaged{Path: dst, At: now, Reason: cause.Error()}, nil
}
