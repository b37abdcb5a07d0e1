// Package natsserver runs a real nats-server with JetStream on 127.0.0.1,
// for the fleet's tests (through fleet/fleettest) and benchmarks.
package natsserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// BinaryEnv names the nats-server binary to run instead of the one found
// on PATH or at /usr/sbin/nats-server.
const BinaryEnv = "SIMHOOK_NATS_SERVER"

// startTimeout bounds how long a server takes to accept connections, and
// to exit once signalled.
const startTimeout = 30 * time.Second

// Binary returns the nats-server to run: $SIMHOOK_NATS_SERVER, else the one
// on PATH, else Debian's /usr/sbin/nats-server; "" when there is none.
func Binary() string {
	if b := os.Getenv(BinaryEnv); b != "" {
		if _, err := os.Stat(b); err != nil {
			return ""
		}
		return b
	}
	if b, err := exec.LookPath("nats-server"); err == nil {
		return b
	}
	if _, err := os.Stat("/usr/sbin/nats-server"); err == nil {
		return "/usr/sbin/nats-server"
	}
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("natsserver: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Proc is one running nats-server process.
type Proc struct {
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has exited
}

// StoreDir and LogFile are where a server launched with dir keeps its
// JetStream store and its log.
func StoreDir(dir string) string { return filepath.Join(dir, "store") }

// LogFile is the log of a server launched with dir.
func LogFile(dir string) string { return filepath.Join(dir, "nats-server.log") }

// Launch starts bin with JetStream on 127.0.0.1:port, its store and log in
// dir, and returns once it accepts connections (or it exited, or 30 s
// passed).
func Launch(bin string, port int, dir string) (*Proc, error) {
	cmd := exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port),
		"-sd", StoreDir(dir), "-l", LogFile(dir))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("natsserver: start: %w", err)
	}
	p := &Proc{cmd: cmd, exit: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exit)
	}()
	if err := waitReady(port, p.exit); err != nil {
		_ = cmd.Process.Kill()
		<-p.exit
		return nil, fmt.Errorf("natsserver: %w (stderr: %s)", err, stderr.String())
	}
	return p, nil
}

// waitReady waits until the server on port accepts a connection and says
// INFO, or its process ends.
func waitReady(port int, exit <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for {
		select {
		case <-exit:
			return errors.New("nats-server exited")
		case <-ctx.Done():
			return fmt.Errorf("nats-server on %s: %w", addr, ctx.Err())
		default:
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 4)
			_, err = io.ReadFull(c, buf)
			c.Close()
			if err == nil && string(buf) == "INFO" {
				return nil
			}
		}
		select {
		case <-exit:
			return errors.New("nats-server exited")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Signal sends sig (SIGTERM to stop, SIGKILL to kill) and waits for the
// process to exit, killing it if it takes longer than 30 s.
func (p *Proc) Signal(sig syscall.Signal) {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exit:
	case <-time.After(startTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exit
	}
}
