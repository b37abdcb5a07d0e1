package modemsim

import (
	"bufio"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"
)

// client talks to a simulated modem through go.bug.st/serial, as a driver
// would through /dev/ttyUSB0.
type client struct {
	t     *testing.T
	port  serial.Port
	lines chan string
}

func dial(t *testing.T, m *Modem) *client {
	t.Helper()
	port, err := serial.Open(m.Path(), &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatalf("serial.Open(%s): %v", m.Path(), err)
	}
	c := &client{t: t, port: port, lines: make(chan string, 1024)}
	go func() {
		defer close(c.lines)
		r := bufio.NewReader(port)
		var cur strings.Builder
		for {
			b, err := r.ReadByte()
			if err != nil {
				return
			}
			switch b {
			case '\n':
				if s := strings.TrimSpace(cur.String()); s != "" {
					c.lines <- s
				}
				cur.Reset()
			case ' ':
				if cur.String() == ">" {
					c.lines <- ">"
					cur.Reset()
					continue
				}
				cur.WriteByte(b)
			default:
				cur.WriteByte(b)
			}
		}
	}()
	t.Cleanup(func() { port.Close() })
	return c
}

// send writes raw bytes.
func (c *client) send(s string) {
	c.t.Helper()
	if _, err := c.port.Write([]byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// cmd sends a command line and returns the lines up to a final result.
func (c *client) cmd(line string) []string {
	c.t.Helper()
	c.send(line + "\r")
	return c.until(func(l string) bool {
		return l == "OK" || l == "ERROR" || strings.HasPrefix(l, "+CME ERROR") || strings.HasPrefix(l, "+CMS ERROR") || l == ">"
	})
}

// until collects lines until stop matches one (included), or fails after 5s.
func (c *client) until(stop func(string) bool) []string {
	c.t.Helper()
	var got []string
	timeout := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("port closed; got %q", got)
			}
			got = append(got, l)
			if stop(l) {
				return got
			}
		case <-timeout:
			c.t.Fatalf("no final result; got %q", got)
		}
	}
}

// last returns the final line.
func last(lines []string) string { return lines[len(lines)-1] }
