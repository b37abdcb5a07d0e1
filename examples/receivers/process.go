//go:build unix

package receivers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Lang names one of the example receivers.
type Lang string

// The example receivers, by language.
const (
	Python Lang = "python" // python/receiver.py, run by python3
	Node   Lang = "node"   // node/receiver.js, run by node
	PHP    Lang = "php"    // php/index.php, served by php -S
	Go     Lang = "go"     // go/main.go, built with go build
)

// Langs returns every example receiver's language.
func Langs() []Lang { return []Lang{Python, Node, PHP, Go} }

// tool is the program each language needs on the PATH.
func (l Lang) tool() string {
	switch l {
	case Python:
		return "python3"
	case Node:
		return "node"
	case PHP:
		return "php"
	case Go:
		return "go"
	}
	return ""
}

// Available reports whether the program needed to run l's receiver is
// installed; the error names the missing program.
func Available(l Lang) error {
	tool := l.tool()
	if tool == "" {
		return fmt.Errorf("receivers: unknown language %q", l)
	}
	if _, err := exec.LookPath(tool); err != nil {
		return fmt.Errorf("receivers: %s receiver needs %s on the PATH: %w", l, tool, err)
	}
	return nil
}

// SourceDir returns the directory holding the receivers' sources (this
// package's own directory), found from the compiled-in file name. It works
// wherever the module's source is at hand, as it is for go test.
func SourceDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// Config says which receiver to start.
type Config struct {
	// Lang is the receiver to run.
	Lang Lang
	// Secret is handed to the receiver as SIMHOOK_SECRET.
	Secret string
	// Dir holds the receivers' sources; empty means SourceDir().
	Dir string
	// WorkDir holds what the receiver needs on disk: the Go receiver's binary
	// (reused when already built there) and the PHP receiver's ids seen.
	// Empty means a new temporary directory, removed by Close.
	WorkDir string
	// ControlDir, if set, runs the receiver with the test event handler of
	// testdata/hooks instead of its own empty one. That handler is steered
	// by files in ControlDir: while "block" exists it creates "entered" and
	// waits; then, while "fail" exists, it fails.
	ControlDir string
}

// Verdict is one verdict line printed by a receiver.
type Verdict struct {
	// Outcome is "accept", "duplicate", "busy", "error" or "reject".
	Outcome string
	// Detail is the event type, or for reject the reason.
	Detail string
	// ID is the request's webhook-id, or "-" when it had none.
	ID string
	// Line is the line as printed.
	Line string
}

// ParseVerdict reads a line "VERDICT <outcome> <detail> <id>".
func ParseVerdict(line string) (Verdict, error) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "VERDICT" {
		return Verdict{}, fmt.Errorf("receivers: not a verdict line: %q", line)
	}
	switch f[1] {
	case "accept", "duplicate", "busy", "error", "reject":
	default:
		return Verdict{}, fmt.Errorf("receivers: unknown outcome %q in %q", f[1], line)
	}
	return Verdict{Outcome: f[1], Detail: f[2], ID: f[3], Line: line}, nil
}

// Process is a running example receiver.
type Process struct {
	// Lang is the receiver's language.
	Lang Lang
	// URL is where the receiver listens, e.g. "http://127.0.0.1:40123/".
	URL string

	cmd     *exec.Cmd
	workDir string // removed by Close when Start created it
	stderr  *tailBuffer
	readErr chan error // the stdout reader's end; buffered, written once

	mu       sync.Mutex
	verdicts []Verdict
	ended    bool
	notify   chan struct{} // signalled (non-blocking) when verdicts or ended change

	closeOnce sync.Once
	closeErr  error
}

// Start runs the receiver described by c on a free port of 127.0.0.1 and
// returns once it accepts connections. ctx bounds the start-up only (building
// the Go receiver, waiting for the port); the process runs until Close.
func Start(ctx context.Context, c Config) (*Process, error) {
	if err := Available(c.Lang); err != nil {
		return nil, err
	}
	dir := c.Dir
	if dir == "" {
		dir = SourceDir()
	}
	p := &Process{Lang: c.Lang, stderr: &tailBuffer{max: 8 << 10}, readErr: make(chan error, 1), notify: make(chan struct{}, 1)}
	work := c.WorkDir
	if work == "" {
		tmp, err := os.MkdirTemp("", "simhook-receiver-")
		if err != nil {
			return nil, fmt.Errorf("receivers: work dir: %w", err)
		}
		work, p.workDir = tmp, tmp
	}
	port, err := freePort()
	if err != nil {
		p.removeWorkDir()
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd, err := command(ctx, c.Lang, dir, work, addr, c.ControlDir != "")
	if err != nil {
		p.removeWorkDir()
		return nil, err
	}
	cmd.Env = append(os.Environ(), "SIMHOOK_SECRET="+c.Secret, "SIMHOOK_SEEN_DIR="+filepath.Join(work, "seen-"+strconv.Itoa(port)))
	if c.ControlDir != "" {
		// php -S serves one request at a time unless given workers.
		cmd.Env = append(cmd.Env, "SIMHOOK_TEST_CONTROL="+c.ControlDir, "PHP_CLI_SERVER_WORKERS=4")
	}
	cmd.Stderr = p.stderr
	// Its own process group, so Close also stops anything it spawned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		p.removeWorkDir()
		return nil, fmt.Errorf("receivers: stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		p.removeWorkDir()
		return nil, fmt.Errorf("receivers: start %s receiver: %w", c.Lang, err)
	}
	p.cmd = cmd
	p.URL = "http://" + addr + "/"
	go p.read(stdout)
	if err := p.waitListening(ctx, addr); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

// command builds the command line that serves lang's receiver on addr;
// hooked runs it with the test event handler of testdata/hooks.
func command(ctx context.Context, lang Lang, dir, work, addr string, hooked bool) (*exec.Cmd, error) {
	_, port, _ := net.SplitHostPort(addr)
	hooks := filepath.Join(SourceDir(), "testdata", "hooks")
	switch lang {
	case Python:
		if hooked {
			return exec.Command("python3", filepath.Join(hooks, "hook.py"), filepath.Join(dir, "python", "receiver.py"), port), nil
		}
		return exec.Command("python3", filepath.Join(dir, "python", "receiver.py"), port), nil
	case Node:
		if hooked {
			return exec.Command("node", filepath.Join(hooks, "hook.js"), filepath.Join(dir, "node", "receiver.js"), port), nil
		}
		return exec.Command("node", filepath.Join(dir, "node", "receiver.js"), port), nil
	case PHP:
		router := "index.php"
		if hooked {
			router = filepath.Join(hooks, "hook.php")
		}
		cmd := exec.Command("php", "-S", addr, router)
		cmd.Dir = filepath.Join(dir, "php")
		return cmd, nil
	case Go:
		bin, err := buildGo(ctx, dir, work, hooked)
		if err != nil {
			return nil, err
		}
		return exec.Command(bin, port), nil
	}
	return nil, fmt.Errorf("receivers: unknown language %q", lang)
}

// buildMu serialises builds into the same work dir.
var buildMu sync.Mutex

// buildGo compiles go/main.go into work, unless a binary is already there.
// hooked adds testdata/hooks/hook.go to the package (go build -overlay),
// which swaps in the test event handler.
func buildGo(ctx context.Context, dir, work string, hooked bool) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	bin := filepath.Join(work, "go-receiver")
	if hooked {
		bin += "-hooked"
	}
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	args := []string{"build", "-o", bin}
	if hooked {
		overlay := filepath.Join(work, "hook-overlay.json")
		spec := fmt.Sprintf(`{"Replace":{%q:%q}}`, filepath.Join(dir, "go", "zz_test_hook.go"),
			filepath.Join(SourceDir(), "testdata", "hooks", "hook.go"))
		if err := os.WriteFile(overlay, []byte(spec), 0o600); err != nil {
			return "", fmt.Errorf("receivers: overlay: %w", err)
		}
		args = append(args, "-overlay", overlay)
	}
	build := exec.CommandContext(ctx, "go", append(args, ".")...)
	build.Dir = filepath.Join(dir, "go")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("receivers: go build of the Go receiver: %w\n%s", err, out)
	}
	return bin, nil
}

// Ports handed to receivers come from below Linux's ephemeral range
// (32768-60999): every "127.0.0.1:0" listener and outgoing connection on the
// machine draws from that range, so a port chosen there could be taken
// between our check and the receiver's bind (seen: EADDRINUSE, and a test
// talking to another test's receiver). portsUsed keeps this process from
// handing out one port twice.
var (
	portsMu   sync.Mutex
	portsUsed = map[int]bool{}
)

// freePort finds a port outside the ephemeral range that is free now.
func freePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 200 {
		port := 20000 + rand.IntN(12000)
		if portsUsed[port] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		l.Close()
		portsUsed[port] = true
		return port, nil
	}
	return 0, errors.New("receivers: no free port found in 20000-31999")
}

// waitListening polls addr until it accepts a connection, the process ends or
// ctx is done.
func (p *Process) waitListening(ctx context.Context, addr string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var d net.Dialer
	for {
		dialCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		conn, err := d.DialContext(dialCtx, "tcp", addr)
		cancel()
		if err == nil {
			return conn.Close()
		}
		p.mu.Lock()
		ended := p.ended
		p.mu.Unlock()
		if ended {
			return fmt.Errorf("receivers: %s receiver exited before listening on %s; stderr:\n%s", p.Lang, addr, p.stderr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("receivers: %s receiver not listening on %s: %w; stderr:\n%s", p.Lang, addr, ctx.Err(), p.stderr)
		case <-tick.C:
		}
	}
}

// read collects verdict lines until the process closes its stdout.
func (p *Process) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		v, err := ParseVerdict(sc.Text())
		if err != nil {
			continue // anything else a receiver prints is not ours to judge
		}
		p.mu.Lock()
		p.verdicts = append(p.verdicts, v)
		p.mu.Unlock()
		p.signal()
	}
	p.mu.Lock()
	p.ended = true
	p.mu.Unlock()
	p.signal()
	p.readErr <- sc.Err()
}

func (p *Process) signal() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// Next returns the oldest verdict not returned yet, waiting for one until ctx
// is done or the receiver has exited.
func (p *Process) Next(ctx context.Context) (Verdict, error) {
	for {
		p.mu.Lock()
		if len(p.verdicts) > 0 {
			v := p.verdicts[0]
			p.verdicts = p.verdicts[1:]
			p.mu.Unlock()
			return v, nil
		}
		ended := p.ended
		p.mu.Unlock()
		if ended {
			return Verdict{}, fmt.Errorf("receivers: %s receiver exited; stderr:\n%s", p.Lang, p.stderr)
		}
		select {
		case <-ctx.Done():
			return Verdict{}, fmt.Errorf("receivers: waiting for a verdict from the %s receiver: %w", p.Lang, ctx.Err())
		case <-p.notify:
		}
	}
}

// Stderr returns the end of what the receiver wrote to its standard error.
func (p *Process) Stderr() string { return p.stderr.String() }

// Close stops the receiver and everything it started, waits for it, and
// removes the work directory Start created. Calling it again returns the
// first call's result.
func (p *Process) Close() error {
	p.closeOnce.Do(func() { p.closeErr = p.stop() })
	return p.closeErr
}

func (p *Process) stop() error {
	defer p.removeWorkDir()
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	readErr := <-p.readErr // stdout must be drained before Wait
	err := p.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		err = nil // killed on purpose
	}
	return errors.Join(err, readErr)
}

func (p *Process) removeWorkDir() {
	if p.workDir != "" {
		_ = os.RemoveAll(p.workDir)
	}
}

// tailBuffer keeps the last max bytes written to it; safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, b...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
