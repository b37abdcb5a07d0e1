// Package fleettest runs a real nats-server with JetStream for tests of
// simhook's fleet package and of what uses it.
package fleettest

import (
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/simhook/simhook/internal/natsserver"
)

// RequireEnv, set to 1, makes a test fail rather than skip when no
// nats-server binary is found.
const RequireEnv = "SIMHOOK_REQUIRE_NATS"

// BinaryEnv names the nats-server binary to run instead of the one found
// on PATH or at /usr/sbin/nats-server.
const BinaryEnv = natsserver.BinaryEnv

// Server is a nats-server with JetStream on 127.0.0.1, its store in a
// temporary directory. It is stopped when the test ends.
type Server struct {
	t    testing.TB
	bin  string
	port int
	dir  string

	mu   sync.Mutex
	proc *natsserver.Proc
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
	bin := natsserver.Binary()
	if bin == "" {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("nats-server not found (PATH, /usr/sbin, $%s) and %s=1", BinaryEnv, RequireEnv)
		}
		t.Skipf("nats-server not found (PATH, /usr/sbin, $%s); set %s=1 to fail instead", BinaryEnv, RequireEnv)
	}
	port, err := natsserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, bin: bin, port: port, dir: t.TempDir()}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			if b, err := os.ReadFile(natsserver.LogFile(s.dir)); err == nil {
				if len(b) > 8000 {
					b = b[len(b)-8000:]
				}
				t.Logf("nats-server log (end):\n%s", b)
			}
		}
	})
	return s
}

// URL is the server's client URL.
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// Port is the server's client port.
func (s *Server) Port() int { return s.port }

// StoreDir is the JetStream store directory.
func (s *Server) StoreDir() string { return natsserver.StoreDir(s.dir) }

// Restart stops the server if it runs and starts it again on the same
// port and store directory, so streams survive; it returns once the server
// accepts connections.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	var lastErr error
	for range 3 {
		p, err := natsserver.Launch(s.bin, s.port, s.dir)
		if err == nil {
			s.proc = p
			return
		}
		lastErr = err
		// The port may be in a moment's use by the previous run.
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Fatalf("fleettest: nats-server on port %d did not come up: %v", s.port, lastErr)
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
	if s.proc == nil {
		return
	}
	s.proc.Signal(sig)
	s.proc = nil
}

// Running reports whether the server runs.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}
