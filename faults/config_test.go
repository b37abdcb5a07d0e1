//go:build faults

package faults

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
)

// metric reads one unlabelled sample from the agent's /metrics.
func metric(t *testing.T, socket, name string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	resp, err := c.Get("http://simhook/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// TestBrokenConfigUnderTraffic breaks the running daemon's configuration
// file three ways (syntax, unknown key, missing secret file), each followed
// by SIGHUP. Each must be reported in the metrics while traffic goes on
// under the old configuration.
func TestBrokenConfigUnderTraffic(t *testing.T) {
	l := newLab(t, lab.Options{Stopped: true})
	ctx := bounded(t, 2*time.Minute)
	p, err := l.StartProcess(ctx, binary)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(10 * time.Second)
	good := l.ConfigYAML()
	broken := []struct{ name, text string }{
		{"syntax error", good + "phones: [\n"},
		{"unknown key", strings.Replace(good, "timezone: UTC", "timezone: UTC\ntimezon: UTC", 1)},
		{"missing secret file", strings.Replace(good, fmt.Sprintf("secret: %q", l.Secret), "secret_file: /nonexistent/simhook-secret", 1)},
	}
	injected := map[string]bool{}
	for i, b := range broken {
		if err := l.WriteConfig(b.text); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(p.Pid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprint(i + 1)
		deadline := time.Now().Add(10 * time.Second)
		for metric(t, l.SocketPath(), "simhook_config_errors_total") < want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: config errors metric stayed at %q\n%s", b.name, metric(t, l.SocketPath(), "simhook_config_errors_total"), p.Output())
			}
			time.Sleep(50 * time.Millisecond)
		}
		text := "after " + b.name
		if _, err := l.Modems[0].InjectSMS(modemsim.SMS{From: "+33612345678", Text: text}); err != nil {
			t.Fatal(err)
		}
		injected[text] = true
		waitAll(t, ctx, l, len(injected))
	}
	if got := metric(t, l.SocketPath(), "simhook_config_reloads_total"); got != "0" {
		t.Errorf("config reloads = %q after only broken files", got)
	}
	for _, b := range broken {
		if !strings.Contains(p.Output(), "config") {
			t.Errorf("the log does not mention the %s", b.name)
		}
	}
	tally(t, l, injected)
}
