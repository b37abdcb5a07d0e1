//go:build linux

package memtrim

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssFile reads the process's file-backed resident set (RssFile, KiB).
func rssFile(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// TestExecutableLeavesTheResidentSet: the test binary's code and read-only
// data are advised away, and its file-backed resident set shrinks.
func TestExecutableLeavesTheResidentSet(t *testing.T) {
	before := rssFile(t)
	n, err := Executable()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	t.Logf("advised %d KiB; RssFile %d → %d KiB", n>>10, before, after)
	if n <= 0 {
		t.Errorf("advised %d bytes, want the executable's read-only mappings", n)
	}
	if after >= before {
		t.Errorf("RssFile %d KiB after, %d before: nothing left the resident set", after, before)
	}
}
