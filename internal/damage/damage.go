// Package damage breaks files the way a failing SD card does, for tests of
// what simhook does with a damaged outbox: a file cut short, pages zeroed,
// bytes flipped, or garbage in place of the data.
package damage

import (
	"fmt"
	"math/rand/v2"
	"os"
)

// Kind is one way to damage a file.
type Kind struct {
	// Name says what it does, for test and table output.
	Name string
	// Apply damages the file at path, deterministically for a seed.
	Apply func(path string, seed uint64) error
}

// pageSize is bbolt's page size on the machines simhook runs on.
const pageSize = 4096

// Kinds are the damages the fault suite applies: the four an operator's
// power cut produced, and three more truncation points.
var Kinds = []Kind{
	{"truncate to half", truncateAt(func(size int64) int64 { return size / 2 })},
	{"zero four pages", zeroPages(2, 4)},
	{"flip 64 random bytes", flipBytes(64)},
	{"overwrite with garbage", garbage},
	{"truncate after the meta pages", truncateAt(func(int64) int64 { return 2 * pageSize })},
	{"truncate at three quarters", truncateAt(func(size int64) int64 { return size * 3 / 4 })},
	{"truncate one byte short", truncateAt(func(size int64) int64 { return size - 1 })},
}

func truncateAt(at func(size int64) int64) func(string, uint64) error {
	return func(path string, _ uint64) error {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		return os.Truncate(path, at(fi.Size()))
	}
}

// zeroPages overwrites n pages from page first with zeros.
func zeroPages(first, n int64) func(string, uint64) error {
	return func(path string, _ uint64) error {
		return write(path, func(f *os.File, _ int64) error {
			_, err := f.WriteAt(make([]byte, n*pageSize), first*pageSize)
			return err
		})
	}
}

// flipBytes inverts n bytes at random offsets past the meta pages.
func flipBytes(n int) func(string, uint64) error {
	return func(path string, seed uint64) error {
		return write(path, func(f *os.File, size int64) error {
			if size <= 2*pageSize {
				return fmt.Errorf("damage: %s is too small to flip bytes in", path)
			}
			r := rand.New(rand.NewPCG(seed, 64))
			b := make([]byte, 1)
			for range n {
				off := 2*pageSize + r.Int64N(size-2*pageSize)
				if _, err := f.ReadAt(b, off); err != nil {
					return err
				}
				b[0] = ^b[0]
				if _, err := f.WriteAt(b, off); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

// garbage replaces the whole file with random bytes of the same length.
func garbage(path string, seed uint64) error {
	return write(path, func(f *os.File, size int64) error {
		r := rand.New(rand.NewPCG(seed, 1))
		buf := make([]byte, size)
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		_, err := f.WriteAt(buf, 0)
		return err
	})
}

// write opens path for writing, applies fn and syncs.
func write(path string, fn func(f *os.File, size int64) error) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := fn(f, fi.Size()); err != nil {
		return fmt.Errorf("damage %s: %w", path, err)
	}
	return f.Sync()
}
