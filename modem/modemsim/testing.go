package modemsim

import "testing"

// Start makes a modem for a test and closes it when the test ends.
func Start(t testing.TB, opts Options) *Modem {
	t.Helper()
	m, err := New(opts)
	if err != nil {
		t.Fatalf("modemsim: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}
