package agent

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Notifier speaks the systemd notify protocol: a datagram to the unix socket
// named by $NOTIFY_SOCKET. It needs no cgo and does nothing when the agent is
// not run by systemd.
type Notifier struct {
	socket   string
	watchdog time.Duration
}

// NewNotifier reads $NOTIFY_SOCKET and $WATCHDOG_USEC (honouring
// $WATCHDOG_PID) from the environment.
func NewNotifier() *Notifier {
	n := &Notifier{socket: os.Getenv("NOTIFY_SOCKET")}
	if usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64); err == nil && usec > 0 {
		pid := os.Getenv("WATCHDOG_PID")
		if pid == "" || pid == strconv.Itoa(os.Getpid()) {
			n.watchdog = time.Duration(usec) * time.Microsecond
		}
	}
	return n
}

// Enabled reports whether a notify socket is configured.
func (n *Notifier) Enabled() bool { return n != nil && n.socket != "" }

// Notify sends one state string such as "READY=1" or "STOPPING=1".
func (n *Notifier) Notify(state string) error {
	if !n.Enabled() {
		return nil
	}
	name := n.socket
	if name[0] == '@' {
		name = "\x00" + name[1:] // abstract namespace
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	defer conn.Close()
	// A full socket queue (systemd busy, or a test that stopped reading)
	// must not block the caller: a stop waits for the watchdog loop.
	if err := conn.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	return nil
}

// RunWatchdog pings the systemd watchdog at half its interval while healthy
// reports true, until ctx ends. A stuck agent stops pinging and systemd
// restarts it. It returns at once when no watchdog is configured.
func (n *Notifier) RunWatchdog(ctx context.Context, healthy func() bool) {
	if !n.Enabled() || n.watchdog <= 0 {
		return
	}
	t := time.NewTicker(n.watchdog / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if healthy() {
				_ = n.Notify("WATCHDOG=1")
			}
		}
	}
}
