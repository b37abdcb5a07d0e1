package agent_test

import (
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/lab"
)

// TestSystemdNotify runs the agent with a notify socket, as systemd does
// for Type=notify with WatchdogSec, and checks READY=1 comes once the phones
// are started, then watchdog pings, then STOPPING=1.
func TestSystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", "")
	l := startLab(t, lab.Options{Agent: agent.Options{Notifier: agent.NewNotifier()}})
	var got []string
	buf := make([]byte, 256)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < 3 {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, string(buf[:n]))
	}
	if !strings.HasPrefix(got[0], "READY=1") || got[1] != "WATCHDOG=1" || got[2] != "WATCHDOG=1" {
		t.Fatalf("notifications %q", got)
	}
	// Keep reading while the agent stops: a socket whose queue fills up
	// (10 datagrams here) would otherwise hold up the watchdog's pings.
	rest := make(chan []string, 1)
	go func() {
		var msgs []string
		for {
			n, err := conn.Read(buf)
			if err != nil {
				rest <- msgs
				return
			}
			msgs = append(msgs, string(buf[:n]))
		}
	}()
	if err := l.StopAgent(); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	msgs := <-rest
	if !slices.Contains(msgs, "STOPPING=1") {
		t.Fatalf("no STOPPING=1 among %q", msgs)
	}
}
