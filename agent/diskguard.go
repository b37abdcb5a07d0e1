package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/internal/clock"
)

// ErrDiskLow is returned for a send request, and to the modem driver for a
// received SMS (which then stays on the SIM), while the state directory's
// filesystem is short of free space.
var ErrDiskLow = errors.New("state directory low on free space")

// diskCheckEvery is how often the guard reads the filesystem's free space at
// most while it has room; while it is short, a check is due this often too,
// so it resumes by itself.
const diskCheckEvery = 5 * time.Second

// diskSpace is the free and total bytes of the filesystem holding dir.
type diskSpace func(dir string) (free, total uint64, err error)

// statfs is the real diskSpace.
func statfs(dir string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// diskGuard stops the agent taking in new data when the state directory's
// filesystem is nearly full (config storage): received SMS stay on the SIMs
// and send requests are refused with ErrDiskLow, while delivery goes on and
// frees space. It never drops data to make room. Checks are cheap (one
// statfs) and happen when data would come in, and at each phone health
// probe, at most every diskCheckEvery.
type diskGuard struct {
	dir   string
	space diskSpace
	clock clock.Clock
	log   *slog.Logger
	cfg   func() config.Storage
	onLow func(low bool) // told of each change (metrics)

	mu      sync.Mutex
	checked time.Time
	low     bool
	free    uint64
	min     uint64
}

// threshold is the free space under which the guard acts, for a filesystem
// of total bytes.
func threshold(s config.Storage, total uint64) uint64 {
	byMB := uint64(s.MinFreeMB) << 20
	byPct := uint64(float64(total) * s.MinFreePercent / 100)
	return max(byMB, byPct)
}

// check reads the free space if the last reading is older than
// diskCheckEvery (or force), and reports whether space is short.
func (g *diskGuard) check(force bool) bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	if !force && !g.checked.IsZero() && now.Sub(g.checked) < diskCheckEvery && !now.Before(g.checked) {
		return g.low
	}
	g.checked = now
	free, total, err := g.space(g.dir)
	if err != nil {
		g.log.Warn("cannot read the state directory's free space; the disk guard keeps its last verdict", "err", err)
		return g.low
	}
	min := threshold(g.cfg(), total)
	low := min > 0 && free < min
	g.free, g.min = free, min
	if low != g.low {
		g.low = low
		if low {
			g.log.Error("state directory low on free space: new SMS stay on the SIMs and send requests are refused until space is back; delivery goes on",
				"dir", g.dir, "free_bytes", free, "min_free_bytes", min)
		} else {
			g.log.Info("state directory has free space again: receiving and sending resume", "dir", g.dir, "free_bytes", free, "min_free_bytes", min)
		}
		if g.onLow != nil {
			g.onLow(low)
		}
	}
	return low
}

// refuse returns ErrDiskLow, with the figures, while space is short.
func (g *diskGuard) refuse() error {
	if !g.check(false) {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return fmt.Errorf("%w: %d bytes free, %d required; delivery goes on and frees space", ErrDiskLow, g.free, g.min)
}

// isLow reports the last verdict without reading the filesystem.
func (g *diskGuard) isLow() bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.low
}
