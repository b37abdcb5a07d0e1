package netwatch

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sample is one line of a testdata file.
type sample struct {
	line int
	want string // true, false or error
	data []byte
}

// readSamples reads testdata/name: comments, then "want hex" lines.
func readSamples(t *testing.T, name string) []sample {
	t.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the samples were captured on a little-endian machine")
	}
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []sample
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		want, h, ok := strings.Cut(line, " ")
		data, err := hex.DecodeString(h)
		if !ok || err != nil {
			t.Fatalf("%s:%d: not \"want hex\": %v", name, n, err)
		}
		out = append(out, sample{n, want, data})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// answer is what the parser said, in the samples' terms.
func answer(changed bool, err error) string {
	switch {
	case err != nil:
		return "error"
	case changed:
		return "true"
	}
	return "false"
}

// TestParseCaptured feeds messages captured from the kernel, in order, to
// one parser: a link counts when it comes up with a carrier (once), an
// address when usable, a route when it is a default one; removals,
// local-table routes and links going down do not.
func TestParseCaptured(t *testing.T) {
	p := parser{up: make(map[int32]bool)}
	for _, s := range readSamples(t, "sequence.txt") {
		if got := answer(p.changed(s.data)); got != s.want {
			t.Errorf("sequence.txt:%d: %s, want %s", s.line, got, s.want)
		}
	}
}

// TestParseEdgeCases: several messages in one buffer, tentative addresses,
// routing tables named by attribute, the loopback, malformed buffers.
func TestParseEdgeCases(t *testing.T) {
	for _, s := range readSamples(t, "edge.txt") {
		p := parser{up: make(map[int32]bool)}
		if got := answer(p.changed(s.data)); got != s.want {
			t.Errorf("edge.txt:%d: %s, want %s", s.line, got, s.want)
		}
	}
}

// TestListenInNamespace runs a Listener on a network namespace of its own
// and changes that namespace's network with ip(8): each change that may
// bring connectivity is signalled, a link going down is not, and Run
// returns when its context ends. It needs root and a kernel with veth.
func TestListenInNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8)")
	}
	ns := fmt.Sprintf("simhook-netwatch-%d", os.Getpid())
	ip := func(args ...string) error {
		out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	if err := ip("link", "add", "v0", "type", "veth", "peer", "name", "v1"); err != nil {
		t.Skip(err)
	}
	l, err := listenIn(filepath.Join("/var/run/netns", ns))
	if err != nil {
		t.Fatal(err)
	}
	signals := make(chan struct{}, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, func() { signals <- struct{}{} }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// wait drains the signals of one step: the first comes at once, the
	// rest of its burst within Quiet.
	wait := func(d time.Duration) int {
		n := 0
		timeout := time.After(d)
		for {
			select {
			case <-signals:
				n++
				timeout = time.After(2 * Quiet)
			case <-timeout:
				return n
			}
		}
	}
	steps := []struct {
		what   string
		args   []string
		signal bool
	}{
		{"a link up without carrier", []string{"link", "set", "v1", "up"}, false},
		{"a link up with carrier", []string{"link", "set", "v0", "up"}, true},
		{"an address", []string{"addr", "add", "10.9.9.1/24", "dev", "v0"}, true},
		{"a default route", []string{"route", "add", "default", "via", "10.9.9.2"}, true},
		{"a link down", []string{"link", "set", "v0", "down"}, false},
	}
	for _, s := range steps {
		if err := ip(s.args...); err != nil {
			t.Fatal(err)
		}
		patience := 10 * time.Second // a signal is awaited this long at most
		if !s.signal {
			patience = 3 * Quiet // and its absence checked this long
		}
		if n := wait(patience); (n > 0) != s.signal {
			t.Errorf("%s: %d signals, want a signal: %v", s.what, n, s.signal)
		}
	}
	cancel()
	select {
	case err := <-done:
		done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}

// listenIn opens a Listener in the network namespace at path; the socket
// stays in it whatever thread reads it.
func listenIn(path string) (*Listener, error) {
	type result struct {
		l   *Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread is left locked if switching back fails: the runtime
		// then ends it with the goroutine.
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer orig.Close()
		ns, err := os.Open(path)
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns: %w", err)}
			return
		}
		l, err := Listen()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			if l != nil {
				l.Close()
			}
			ch <- result{nil, errors.Join(err, errors.New("cannot return to the test's namespace"))}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{l, err}
	}()
	r := <-ch
	return r.l, r.err
}
