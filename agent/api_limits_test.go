package agent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/config"
)

// patience bounds every wait of these tests: far beyond the limits they set,
// so that only a connection that is never closed (or served) fails them.
const patience = 30 * time.Second

// startTCPAPI serves the API of testdata/api-tcp.yaml (TCP only, with a
// token) under lim and returns its address.
func startTCPAPI(t *testing.T, lim APILimits) string {
	t.Helper()
	cfg, err := config.Load("testdata/api-tcp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Options{API: lim})
	if err != nil {
		t.Fatal(err)
	}
	s, err := a.listenAPI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.serve(context.Background()) }()
	t.Cleanup(func() {
		s.shutdown(time.Second)
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s.listeners[0].Addr().String()
}

// dial opens a raw connection to addr.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// anonRequest is a request without the token: answered 401 by the API
// itself, the way a stranger on the network would be.
const anonRequest = "GET /healthz HTTP/1.1\r\nHost: simhook\r\n\r\n"

// readAnswer reads one HTTP answer from c.
func readAnswer(c net.Conn, br *bufio.Reader, wait time.Duration) (*http.Response, error) {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// TestAPIConnectionTimeouts: whatever a client leaves unfinished, the API
// closes the connection: one that sends nothing, one that stops in the
// middle of a body, one kept alive and idle.
func TestAPIConnectionTimeouts(t *testing.T) {
	short := 200 * time.Millisecond
	tests := []struct {
		name string
		lim  APILimits
		send string // what the client sends before falling silent
	}{
		{"sends nothing", APILimits{ReadHeaderTimeout: short}, ""},
		{"stops in the headers", APILimits{ReadHeaderTimeout: short}, "GET /healthz HTTP/1.1\r\nHost: simhook\r\n"},
		{"stops in the body", APILimits{ReadTimeout: short},
			"POST /v1/sms HTTP/1.1\r\nHost: simhook\r\nAuthorization: Bearer api-test-token\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"to\":"},
		{"idle after a request", APILimits{IdleTimeout: short}, anonRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, startTCPAPI(t, tt.lim))
			if _, err := io.WriteString(c, tt.send); err != nil {
				t.Fatal(err)
			}
			// Whatever the server answers, the connection must end in EOF
			// (or a reset), not in our own deadline.
			_ = c.SetReadDeadline(time.Now().Add(patience))
			_, err := io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the connection was still open after %s", patience)
			}
		})
	}
}

// TestAPIConnectionCap: with MaxConns connections open, another connection
// is not served until one of them closes.
func TestAPIConnectionCap(t *testing.T) {
	const maxConns = 3
	addr := startTCPAPI(t, APILimits{MaxConns: maxConns, IdleTimeout: time.Hour, ReadHeaderTimeout: time.Hour})
	var held []net.Conn
	for i := range maxConns {
		c := dial(t, addr)
		br := bufio.NewReader(c)
		if _, err := io.WriteString(c, anonRequest); err != nil {
			t.Fatal(err)
		}
		if resp, err := readAnswer(c, br, patience); err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("connection %d: %v %v", i, resp, err)
		}
		held = append(held, c) // kept alive, idle
	}
	extra := dial(t, addr)
	br := bufio.NewReader(extra)
	if _, err := io.WriteString(extra, anonRequest); err != nil {
		t.Fatal(err)
	}
	// Over the cap: no answer while the others stay open. (A short look:
	// it can only miss a broken cap, never fail a working one.)
	if resp, err := readAnswer(extra, br, 300*time.Millisecond); err == nil {
		t.Fatalf("connection %d was served (%s) with %d open", maxConns+1, resp.Status, maxConns)
	}
	// One closes: the waiting connection is served.
	held[0].Close()
	if resp, err := readAnswer(extra, br, patience); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after a connection closed: %v %v", resp, err)
	}
}

// TestAPIListenWarning: a TCP listener on anything but loopback is warned
// about at start, as the token then travels in clear text.
func TestAPIListenWarning(t *testing.T) {
	tests := []struct {
		listen string
		warn   bool
	}{
		{"127.0.0.1:0", false},
		{"[::1]:0", false},
		{"0.0.0.0:0", true},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			cfg, err := config.Load("testdata/api-tcp.yaml")
			if err != nil {
				t.Fatal(err)
			}
			cfg.API.Listen = tt.listen
			var logs bytes.Buffer
			a, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			s, err := a.listenAPI(cfg)
			if err != nil {
				if tt.listen == "[::1]:0" {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				t.Fatal(err)
			}
			s.close()
			warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "clear text")
			if warned != tt.warn {
				t.Errorf("warned %v, want %v; log:\n%s", warned, tt.warn, logs.String())
			}
		})
	}
}
