package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is the agent running as its own `simhook run` process on the
// lab's configuration, for what an in-process agent cannot show: SIGKILL at
// any instant, and the footprint of the daemon alone.
type Process struct {
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	output *SyncBuffer
}

// StartProcess runs `binary run --config <lab config>` and returns once the
// agent answers /healthz on its API socket. The lab's in-process agent must
// not be running (they would share the outbox file).
func (l *Lab) StartProcess(ctx context.Context, binary string) (*Process, error) {
	if l.Agent() != nil {
		return nil, errors.New("lab: stop the in-process agent first")
	}
	p := &Process{done: make(chan struct{}), output: &SyncBuffer{}}
	p.cmd = exec.Command(binary, "run", "--config", l.ConfigPath)
	p.cmd.Stdout = p.output
	p.cmd.Stderr = p.output
	p.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET=")
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", l.SocketPath())
		},
	}}
	defer client.CloseIdleConnections()
	for {
		resp, err := client.Get("http://simhook/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("lab: agent process exited: %v\n%s", p.err, p.output.String())
		case <-ctx.Done():
			_ = p.Kill()
			return nil, fmt.Errorf("lab: agent process not ready: %w\n%s", ctx.Err(), p.output.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Pid is the agent's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output is what the process logged so far.
func (p *Process) Output() string { return p.output.String() }

// Kill sends SIGKILL, as a power cut or the OOM killer would, and waits.
func (p *Process) Kill() error {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	return nil
}

// Stop sends SIGTERM and waits up to timeout for a graceful exit, then
// kills. It returns an error if the agent did not exit cleanly in time.
func (p *Process) Stop(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("agent process: %w\n%s", p.err, p.output.String())
		}
		return nil
	case <-time.After(timeout):
		_ = p.Kill()
		return fmt.Errorf("agent process did not stop within %s", timeout)
	}
}

// Usage is a process's resource use as /proc reports it.
type Usage struct {
	RSS, HWM int64         // resident set now and at its peak, bytes
	CPU      time.Duration // user + system time so far
}

// Usage reads the process's memory and CPU time from /proc.
func (p *Process) Usage() (Usage, error) { return ProcUsage(p.Pid()) }

// ProcUsage reads memory and CPU time of any process from /proc.
func ProcUsage(pid int) (Usage, error) {
	var u Usage
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[0], 10, 64)
		switch name {
		case "VmRSS":
			u.RSS = kb << 10
		case "VmHWM":
			u.HWM = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields of the whole line.
	rest := string(stat[bytes.LastIndexByte(stat, ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return u, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	u.CPU = time.Duration(utime+stime) * time.Second / ticks
	return u, nil
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes: a process's
// output, or a logger shared by goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
