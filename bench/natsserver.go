package bench

import (
	"errors"
	"os"
	"strconv"
	"syscall"

	"github.com/simhook/simhook/internal/natsserver"
)

// natsServer is a nats-server with JetStream on 127.0.0.1, for the fleet
// figures, its store in a directory removed when it stops.
type natsServer struct {
	proc *natsserver.Proc
	dir  string
	port int
}

// errNoNATS means no nats-server binary was found.
var errNoNATS = errors.New("bench: nats-server not found (Debian: apt install nats-server)")

// startNATS starts a server on a free port and waits until it accepts
// connections.
func startNATS() (*natsServer, error) {
	bin := natsserver.Binary()
	if bin == "" {
		return nil, errNoNATS
	}
	port, err := natsserver.FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "simhook-bench-nats-")
	if err != nil {
		return nil, err
	}
	p, err := natsserver.Launch(bin, port, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &natsServer{proc: p, dir: dir, port: port}, nil
}

// url is the server's client URL.
func (s *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// stop ends the server and removes its store.
func (s *natsServer) stop() {
	s.proc.Signal(syscall.SIGKILL)
	os.RemoveAll(s.dir)
}
