package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// natsServer is a nats-server with JetStream on 127.0.0.1, for the fleet
// figures.
type natsServer struct {
	cmd  *exec.Cmd
	dir  string
	port int
	done chan struct{}
}

// natsBinary finds nats-server on PATH or where Debian puts it.
func natsBinary() (string, error) {
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/nats-server"); err == nil {
		return "/usr/sbin/nats-server", nil
	}
	return "", errors.New("bench: nats-server not found (Debian: apt install nats-server)")
}

// startNATS starts a server on a free port with its store in a new
// directory, and waits until it accepts connections.
func startNATS(ctx context.Context) (*natsServer, error) {
	bin, err := natsBinary()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, err := os.MkdirTemp("", "simhook-bench-nats-")
	if err != nil {
		return nil, err
	}
	s := &natsServer{dir: dir, port: port, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sd", filepath.Join(dir, "store"))
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: nats-server: %w", err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			os.RemoveAll(dir)
			return nil, errors.New("bench: nats-server exited at start")
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// url is the server's client URL.
func (s *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// stop ends the server and removes its store.
func (s *natsServer) stop() {
	_ = s.cmd.Process.Kill()
	<-s.done
	os.RemoveAll(s.dir)
}
