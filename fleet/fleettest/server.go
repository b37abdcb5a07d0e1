// Package fleettest runs a real nats-server with JetStream for tests of
// simhook's fleet package and of what uses it.
package fleettest

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
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv, set to 1, makes a test fail rather than skip when no
// nats-server binary is found.
const RequireEnv = "SIMHOOK_REQUIRE_NATS"

// BinaryEnv names the nats-server binary to run instead of the one found
// on PATH or at /usr/sbin/nats-server.
const BinaryEnv = "SIMHOOK_NATS_SERVER"

// startTimeout bounds how long a server takes to accept connections.
const startTimeout = 30 * time.Second

// Server is a nats-server with JetStream on 127.0.0.1, its store in a
// temporary directory. It is stopped when the test ends.
type Server struct {
	t    testing.TB
	bin  string
	port int
	dir  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has exited
}

// Start starts a server on a free port, or skips the test when there is no
// nats-server binary (fails it when SIMHOOK_REQUIRE_NATS=1).
func Start(t testing.TB) *Server {
	t.Helper()
	s := New(t)
	s.Restart()
	return s
}

// New prepares a server (its port and store directory) without starting
// it, so that a client can be pointed at a server that is down; Restart
// starts it.
func New(t testing.TB) *Server {
	t.Helper()
	bin := binary()
	if bin == "" {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("nats-server not found (PATH, /usr/sbin, $%s) and %s=1", BinaryEnv, RequireEnv)
		}
		t.Skipf("nats-server not found (PATH, /usr/sbin, $%s); set %s=1 to fail instead", BinaryEnv, RequireEnv)
	}
	s := &Server{t: t, bin: bin, port: freePort(t), dir: t.TempDir()}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			if b, err := os.ReadFile(s.logFile()); err == nil {
				if len(b) > 8000 {
					b = b[len(b)-8000:]
				}
				t.Logf("nats-server log (end):\n%s", b)
			}
		}
	})
	return s
}

func binary() string {
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

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fleettest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// URL is the server's client URL.
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// Port is the server's client port.
func (s *Server) Port() int { return s.port }

// StoreDir is the JetStream store directory.
func (s *Server) StoreDir() string { return filepath.Join(s.dir, "store") }

func (s *Server) logFile() string { return filepath.Join(s.dir, "nats-server.log") }

// Restart stops the server if it runs and starts it again on the same
// port and store directory, so streams survive; it returns once the server
// accepts connections.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		cmd := exec.Command(s.bin, "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(s.port),
			"-sd", s.StoreDir(), "-l", s.logFile())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			s.t.Fatalf("fleettest: start nats-server: %v", err)
		}
		exit := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(exit)
		}()
		if err := waitReady(s.port, exit); err != nil {
			_ = cmd.Process.Kill()
			<-exit
			lastErr = fmt.Errorf("%w (stderr: %s)", err, stderr.String())
			// The port may be in a moment's use by the previous run.
			time.Sleep(200 * time.Millisecond)
			continue
		}
		s.cmd, s.exit = cmd, exit
		return
	}
	s.t.Fatalf("fleettest: nats-server on port %d did not come up: %v", s.port, lastErr)
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

// Stop shuts the server down gracefully and waits for it to exit. It does
// nothing when the server is not running.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Kill kills the server at once (SIGKILL) and waits for it to exit: what
// it had not written to its store is lost.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.exit:
	case <-time.After(startTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exit
	}
	s.cmd, s.exit = nil, nil
}

// Running reports whether the server runs.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}
