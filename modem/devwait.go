package modem

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/simhook/simhook/internal/clock"
)

// A USB modem's device node comes and goes: the stick re-enumerates on
// AT+CFUN=1,1, under-voltage resets the port, usb_modeswitch turns it from
// mass storage into a modem seconds after boot. A phone whose device is
// missing is not failing: it waits for the node to appear and opens it at
// once, without growing its reconnection backoff. devWatch is that wait.

// devPollEvery is the fallback poll while waiting for a device, in case
// inotify misses an event (or cannot be used at all). It runs only while a
// phone waits (for its device, or out its backoff); a phone that is up
// polls nothing.
var devPollEvery = time.Second

// matchDirs are the directories whose new entries may be a matched phone's
// modem; tests replace them (pseudo-terminals appear elsewhere).
var matchDirs = []string{"/dev", "/dev/serial/by-id"}

// devWatch watches the directories a device path depends on, so that a
// phone learns within milliseconds that its device appeared or vanished.
// It is owned by one phone's Run and closed when Run returns.
type devWatch struct {
	fsw *fsnotify.Watcher // nil when inotify is unavailable: poll only
	// watched are the directories watched, each as it was when its watch
	// was armed: a directory removed and created again under the same name
	// is another one, whose watch must be armed anew.
	watched map[string]os.FileInfo
	log     *slog.Logger
	poll    time.Duration
	clk     clock.Clock
}

// newDevWatch makes a watcher whose waits run on clk; without inotify it
// falls back to polling.
func newDevWatch(log *slog.Logger, poll time.Duration, clk clock.Clock) *devWatch {
	w := &devWatch{watched: make(map[string]os.FileInfo), log: log, poll: poll, clk: clock.Or(clk)}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		log.Warn("cannot watch for modems appearing; polling instead", "err", err, "every", poll)
		return w
	}
	w.fsw = fsw
	return w
}

// Close stops watching.
func (w *devWatch) Close() {
	if w.fsw != nil {
		w.fsw.Close()
	}
}

// watchFor arms watches on the nearest existing ancestor of each
// directory, and on the directory itself once it exists, so that a path
// under a directory that does not exist yet (/dev/serial/by-id disappears
// with the last USB serial device) is noticed when it is created. A
// directory created below the ancestor while its watch was being armed is
// found by looking again, and watched in turn.
//
// A directory watched before but since removed and created again (udev
// removes /dev/serial with the last USB serial device and creates it with
// the next) is watched again: its old watch went with the old directory,
// and inotify may not say so (no event comes for a watched directory's
// removal once its parent is watched too). So is a directory whose watch
// the watcher dropped.
func (w *devWatch) watchFor(dirs ...string) {
	if w.fsw == nil {
		return
	}
	for _, dir := range dirs {
		for armed := ""; ; {
			d, st := nearestDir(filepath.Clean(dir))
			if st == nil || d == armed {
				break
			}
			armed = d
			if prev, ok := w.watched[d]; ok && os.SameFile(prev, st) && slices.Contains(w.fsw.WatchList(), d) {
				continue
			}
			if _, ok := w.watched[d]; ok {
				_ = w.fsw.Remove(d) // the old directory's watch, if inotify kept it
			}
			if err := w.fsw.Add(d); err != nil {
				w.log.Debug("cannot watch directory", "dir", d, "err", err)
				delete(w.watched, d)
				break
			}
			w.watched[d] = st
		}
	}
}

// nearestDir is dir or its nearest ancestor that exists, with its
// FileInfo (nil if none does).
func nearestDir(dir string) (string, os.FileInfo) {
	d := dir
	for {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d, st
		}
		parent := filepath.Dir(d)
		if parent == d {
			return d, nil
		}
		d = parent
	}
}

// forget drops watches on directories that no longer exist (inotify drops
// them itself; the map must agree so they are armed again).
func (w *devWatch) forget() {
	for d := range w.watched {
		if _, err := os.Stat(d); err != nil {
			delete(w.watched, d)
			if w.fsw != nil {
				_ = w.fsw.Remove(d)
			}
		}
	}
}

// events returns the channel of directory events (nil without inotify).
func (w *devWatch) events() <-chan fsnotify.Event {
	if w.fsw == nil {
		return nil
	}
	return w.fsw.Events
}

// errs returns the channel of watch errors (nil without inotify).
func (w *devWatch) errs() <-chan error {
	if w.fsw == nil {
		return nil
	}
	return w.fsw.Errors
}

// devicePresent reports whether path leads to an existing node (a dangling
// by-id link is not a device).
func devicePresent(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// waitPresent blocks until path leads to a device, or ctx ends (its error
// is returned). It re-checks on every event in path's directory (or its
// nearest existing ancestor), and every poll period in case an event is
// missed.
func (w *devWatch) waitPresent(ctx context.Context, path string) error {
	poll := w.clk.NewTimer(w.poll)
	defer func() { poll.Stop() }()
	for {
		w.watchFor(filepath.Dir(path))
		// Checked after arming, so a node created in between is not missed.
		if devicePresent(path) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.events():
			if !ok {
				w.fsw = nil
			}
			if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				w.forget()
			}
		case err, ok := <-w.errs():
			if !ok {
				w.fsw = nil
				continue
			}
			w.log.Debug("device watch", "err", err)
		case <-poll.C():
			w.forget()
			poll = w.clk.NewTimer(w.poll)
		}
	}
}

// changed blocks until an entry named like path's base is created or
// removed in its directory, or ctx ends or d passes; it reports whether
// such a change came. It serves the backoff wait after a failed session:
// a device that vanishes then (or is re-created by a re-enumeration) ends
// the wait early. With no path (a matched phone) it just waits.
func (w *devWatch) changed(ctx context.Context, path string, d time.Duration) bool {
	timer := w.clk.NewTimer(d)
	defer timer.Stop()
	if path == "" {
		select {
		case <-ctx.Done():
		case <-timer.C():
		}
		return false
	}
	w.watchFor(filepath.Dir(path))
	base := filepath.Base(path)
	wasPresent := devicePresent(path)
	poll := w.clk.NewTimer(w.poll)
	defer func() { poll.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C():
			return false
		case ev, ok := <-w.events():
			if !ok {
				w.fsw = nil
				continue
			}
			if filepath.Base(ev.Name) == base && ev.Op&(fsnotify.Create|fsnotify.Remove|fsnotify.Rename) != 0 {
				return true
			}
		case <-w.errs():
		case <-poll.C():
			if devicePresent(path) != wasPresent {
				return true
			}
			poll = w.clk.NewTimer(w.poll)
		}
	}
}

// waitNewPort blocks until an entry that could be a serial port is created
// in one of dirs (then waits settle for the rest of a modem's ports, which
// appear together), or every passes, or ctx ends (its error is returned).
func (w *devWatch) waitNewPort(ctx context.Context, dirs []string, every, settle time.Duration) error {
	w.watchFor(dirs...)
	timer := w.clk.NewTimer(every)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C():
			return nil
		case ev, ok := <-w.events():
			if !ok {
				w.fsw = nil
				continue
			}
			if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				w.forget()
				continue
			}
			if ev.Has(fsnotify.Create) {
				w.watchFor(dirs...) // a watched directory may have just appeared
				if isTTYName(ev.Name) {
					if !clock.Sleep(w.clk, settle, ctx.Done()) {
						return ctx.Err()
					}
					return nil
				}
			}
		case <-w.errs():
		}
	}
}

// isTTYName reports whether a new /dev entry could be a serial port.
func isTTYName(name string) bool {
	return filepath.Dir(name) != "/dev" || strings.HasPrefix(filepath.Base(name), "tty")
}

// errNoDevice marks a session that found no device to open: the port's
// node is missing, or no port matches. It is not a failure that grows the
// backoff.
var errNoDevice = errors.New("no device")
