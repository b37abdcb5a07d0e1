package agent

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/internal/clock"
)

// TestThreshold checks that the guard acts under the larger of its two
// limits.
func TestThreshold(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name  string
		cfg   config.Storage
		total uint64
		want  uint64
	}{
		{"defaults on a 1 GiB card: 100 MiB wins", config.Storage{MinFreeMB: 100, MinFreePercent: 5}, 1024 * mib, 100 * mib},
		{"defaults on a 32 GiB card: 5 % wins", config.Storage{MinFreeMB: 100, MinFreePercent: 5}, 32768 * mib, 32768 * mib / 20},
		{"disabled", config.Storage{}, 32768 * mib, 0},
		{"percent only", config.Storage{MinFreePercent: 10}, 1000 * mib, 100 * mib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := threshold(tt.cfg, tt.total); got != tt.want {
				t.Errorf("threshold = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestDiskGuardResumesByItself walks the guard through a filling and an
// emptying disk on a fake clock: it turns low and back exactly once each,
// reads the filesystem at most every diskCheckEvery, and says why it refuses.
func TestDiskGuardResumesByItself(t *testing.T) {
	const mib = 1 << 20
	clk := clock.NewFake(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	free := uint64(500 * mib)
	reads := 0
	var changes []bool
	g := &diskGuard{
		dir:   "/var/lib/simhook",
		space: func(string) (uint64, uint64, error) { reads++; return free, 1024 * mib, nil },
		clock: clk,
		log:   slog.New(slog.DiscardHandler),
		cfg:   func() config.Storage { return config.Storage{MinFreeMB: 100, MinFreePercent: 5} },
		onLow: func(low bool) { changes = append(changes, low) },
	}
	steps := []struct {
		advance  time.Duration
		free     uint64
		wantLow  bool
		wantRead int
	}{
		{0, 500 * mib, false, 1},
		{time.Second, 50 * mib, false, 1}, // not read again yet
		{diskCheckEvery, 50 * mib, true, 2},
		{time.Second, 50 * mib, true, 2},
		{diskCheckEvery, 99 * mib, true, 3},
		{diskCheckEvery, 101 * mib, false, 4},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		free = st.free
		err := g.refuse()
		if (err != nil) != st.wantLow || g.isLow() != st.wantLow {
			t.Errorf("step %d: refuse() = %v, isLow %v; want low %v", i, err, g.isLow(), st.wantLow)
		}
		if err != nil && !errors.Is(err, ErrDiskLow) {
			t.Errorf("step %d: %v is not ErrDiskLow", i, err)
		}
		if reads != st.wantRead {
			t.Errorf("step %d: %d reads, want %d", i, reads, st.wantRead)
		}
	}
	if len(changes) != 2 || !changes[0] || changes[1] {
		t.Errorf("changes = %v, want [true false]", changes)
	}
}
