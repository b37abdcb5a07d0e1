package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/simhook/simhook/internal/clock"
)

// Watch defaults.
const (
	// DefaultDebounce is how long Watch waits after the last change of a
	// burst before it reloads.
	DefaultDebounce = 300 * time.Millisecond
	// DefaultRearmInterval is how often Watch retries watching the directory
	// after the watch broke (for example, the directory was removed).
	DefaultRearmInterval = time.Second
)

// WatchOptions configures Watch. Every field is optional.
type WatchOptions struct {
	// Debounce is the quiet time after the last change before the file is
	// re-read. Default 300ms.
	Debounce time.Duration
	// OnChange receives each new valid configuration. It runs on the
	// watcher's goroutine, one call at a time.
	OnChange func(*Config)
	// OnError receives the error of a change that does not load (the caller
	// keeps its running configuration). It runs on the watcher's goroutine.
	OnError func(error)
	// Logger receives the watcher's logs. Default slog.Default().
	Logger *slog.Logger
	// Current is the configuration running now: a change to the file that
	// loads to the same configuration is not reported. When nil, Watch reads
	// the file once at start to learn it.
	Current *Config
	// RearmInterval is how often a broken directory watch is retried.
	// Default 1s.
	RearmInterval time.Duration
	// Clock times the debounce (tests inject a fake one). Default the
	// system clock.
	Clock clock.Clock
}

// Watcher follows one configuration file. Create it with Watch; it stops
// when Watch's context ends or Close is called.
type Watcher struct {
	path, dir, base string
	opts            WatchOptions
	log             *slog.Logger
	reload          chan struct{}
	cancel          context.CancelFunc
	done            chan struct{}
	closeOnce       sync.Once

	// loads counts the times the file was read (tests check the debounce).
	loads atomic.Int64
	// events counts the file events that armed the debounce (tests wait
	// for a burst to be seen before they move the clock).
	events atomic.Int64

	// Owned by the run goroutine.
	last       *Config
	lastFailed bool
}

// Watch starts watching the configuration file at path. It watches the
// file's directory, so that replacing the file by rename (editors, dpkg) is
// seen, reacts only to the file's own name (never to editor swap files or
// dpkg's .dpkg-new and friends), waits for a burst of changes to settle, then
// loads the file: a valid configuration different from the running one goes
// to OnChange, an invalid one to OnError. If the directory watch breaks it is
// re-armed, and the file re-read. The watcher runs until ctx ends or Close.
func Watch(ctx context.Context, path string, opts WatchOptions) (*Watcher, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: watch %s: %w", path, err)
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.RearmInterval <= 0 {
		opts.RearmInterval = DefaultRearmInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.Clock = clock.Or(opts.Clock)
	w := &Watcher{
		path:   abs,
		dir:    filepath.Dir(abs),
		base:   filepath.Base(abs),
		opts:   opts,
		log:    opts.Logger,
		reload: make(chan struct{}, 1),
		done:   make(chan struct{}),
		last:   opts.Current,
	}
	fsw, err := w.arm()
	if err != nil {
		return nil, err
	}
	if w.last == nil {
		if c, err := Load(abs); err == nil {
			w.last = c
		}
	}
	ctx, w.cancel = context.WithCancel(ctx)
	go w.run(ctx, fsw)
	return w, nil
}

// Reload asks the watcher to re-read the file now (for SIGHUP). The result
// goes to OnChange even when the configuration did not change, or to OnError.
// It does not block.
func (w *Watcher) Reload() {
	select {
	case w.reload <- struct{}{}:
	default: // a reload is already pending
	}
}

// Wait blocks until the watcher has stopped.
func (w *Watcher) Wait() { <-w.done }

// Close stops the watcher and waits for it to finish. It is safe to call
// more than once.
func (w *Watcher) Close() error {
	w.closeOnce.Do(w.cancel)
	<-w.done
	return nil
}

// arm creates a watch on the directory.
func (w *Watcher) arm() (*fsnotify.Watcher, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("config: watch: %w", err)
	}
	if err := fsw.Add(w.dir); err != nil {
		fsw.Close()
		return nil, fmt.Errorf("config: watch %s: %w", w.dir, err)
	}
	return fsw, nil
}

// run is the watcher's one goroutine.
func (w *Watcher) run(ctx context.Context, fsw *fsnotify.Watcher) {
	defer close(w.done)
	// The debounce runs on the options' clock: armed at each event, nil
	// (no timer) when nothing waits to be read.
	var debounce clock.Timer
	var debounceC <-chan time.Time
	arm := func() {
		if debounce != nil {
			debounce.Stop()
		}
		debounce = w.opts.Clock.NewTimer(w.opts.Debounce)
		debounceC = debounce.C()
	}
	disarm := func() {
		if debounce != nil {
			debounce.Stop()
		}
		debounce, debounceC = nil, nil
	}
	defer disarm()
	rearm := time.NewTimer(time.Hour)
	rearm.Stop()
	defer rearm.Stop()
	defer func() {
		if fsw != nil {
			fsw.Close()
		}
	}()
	broken := func(why string, err error) {
		w.log.Warn("configuration watch broke; re-arming", "dir", w.dir, "reason", why, "err", err)
		if fsw != nil {
			fsw.Close()
			fsw = nil
		}
		rearm.Reset(w.opts.RearmInterval)
	}
	for {
		var events <-chan fsnotify.Event
		var fserrs <-chan error
		if fsw != nil {
			events, fserrs = fsw.Events, fsw.Errors
		}
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			switch {
			case !ok:
				broken("event stream closed", nil)
			case filepath.Clean(ev.Name) == w.dir && ev.Has(fsnotify.Remove|fsnotify.Rename):
				broken("directory removed or renamed", nil)
			case w.concerns(ev):
				w.log.Debug("configuration file event", "event", ev.Op.String())
				arm()
				w.events.Add(1)
			}
		case err, ok := <-fserrs:
			switch {
			case !ok:
				broken("error stream closed", nil)
			case errors.Is(err, fsnotify.ErrEventOverflow):
				w.log.Warn("configuration watch overflowed; re-reading", "err", err)
				arm()
			default:
				broken("watch error", err)
			}
		case <-rearm.C:
			f, err := w.arm()
			if err != nil {
				w.log.Debug("configuration directory not watchable yet", "err", err)
				rearm.Reset(w.opts.RearmInterval)
				continue
			}
			fsw = f
			w.log.Info("configuration watch re-armed", "dir", w.dir)
			arm() // the file may have changed meanwhile
		case <-w.reload:
			disarm()
			w.load(true)
		case <-debounceC:
			disarm()
			w.load(false)
		}
	}
}

// concerns reports whether an event is about the watched file itself.
func (w *Watcher) concerns(ev fsnotify.Event) bool {
	if filepath.Dir(filepath.Clean(ev.Name)) != w.dir {
		return false
	}
	name := filepath.Base(ev.Name)
	if name != w.base || IsTempFile(name) {
		return false
	}
	return ev.Op != fsnotify.Chmod // a bare chmod changes nothing we read
}

// load re-reads the file and hands the outcome to the callbacks. Unless
// forced, a configuration equal to the running one is not reported.
func (w *Watcher) load(forced bool) {
	w.loads.Add(1)
	c, err := Load(w.path)
	if err != nil {
		w.lastFailed = true
		w.log.Error("configuration change rejected; keeping the running configuration", "path", w.path, "err", err)
		if w.opts.OnError != nil {
			w.opts.OnError(err)
		}
		return
	}
	if !forced && !w.lastFailed && w.last != nil && reflect.DeepEqual(w.last, c) {
		w.log.Debug("configuration file changed but loads to the same configuration", "path", w.path)
		return
	}
	w.lastFailed = false
	w.last = c
	w.log.Info("configuration loaded", "path", w.path, "phones", len(c.Phones), "webhooks", len(c.Webhooks))
	if w.opts.OnChange != nil {
		w.opts.OnChange(c)
	}
}

// IsTempFile reports whether a file name is one that package managers and
// editors use for temporary or backup copies (dpkg's .dpkg-new, .dpkg-old,
// .dpkg-tmp and .dpkg-dist, ucf's .ucf-*, vim's .name.swp and 4913 probe,
// emacs's #name# and name~, and the like). Watch never reacts to them.
func IsTempFile(name string) bool {
	for _, suffix := range []string{
		".dpkg-new", ".dpkg-old", ".dpkg-tmp", ".dpkg-dist", ".dpkg-bak",
		".ucf-new", ".ucf-old", ".ucf-dist", ".swp", ".swx", ".swo", ".tmp", ".bak", "~",
	} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	if name == "4913" || strings.HasPrefix(name, ".#") ||
		(strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#")) {
		return true
	}
	return false
}
