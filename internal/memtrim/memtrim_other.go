//go:build !linux

package memtrim

// Executable does nothing outside Linux.
func Executable() (int64, error) { return 0, nil }
