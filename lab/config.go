package lab

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// ConfigYAML renders the lab's configuration file: every phone on its
// simulated modem's stable link and one endpoint on the lab's receiver, with
// retry intervals short enough for tests.
func (l *Lab) ConfigYAML() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# simhook lab configuration (generated)\n")
	fmt.Fprintf(&b, "state_dir: %s\n", filepath.Join(l.Dir, "state"))
	fmt.Fprintf(&b, "timezone: UTC\nuser_id: 1\n")
	fmt.Fprintf(&b, "log: {level: info, format: text}\n")
	fmt.Fprintf(&b, "api:\n  socket: %s\n", l.SocketPath())
	fmt.Fprintf(&b, "phones:\n")
	for i := range l.Modems {
		fmt.Fprintf(&b, "  - id: %d\n    port: %s\n    delivery_reports: true\n", i+1, l.ModemLink(i+1))
		for _, line := range strings.Split(strings.TrimSpace(l.opts.PhoneYAML), "\n") {
			if line != "" {
				fmt.Fprintf(&b, "    %s\n", line)
			}
		}
	}
	format := l.opts.Format
	if format == "" {
		format = "form"
	}
	method := l.opts.Method
	if method == "" {
		method = "post"
	}
	fmt.Fprintf(&b, "webhooks:\n  - name: lab\n    url: %s\n    secret: %q\n", l.ReceiverURL, l.Secret)
	fmt.Fprintf(&b, "    method: %s\n    format: %s\n    timeout: 5s\n", method, format)
	fmt.Fprintf(&b, "    retry: {initial: 100ms, max_interval: 1s, max_age: 168h}\n")
	for _, e := range l.opts.Endpoints {
		fmt.Fprintf(&b, "  - name: %s\n    url: %s\n    secret: %q\n", e.Name, e.URL, e.Secret)
		if e.Format != "" {
			fmt.Fprintf(&b, "    format: %s\n", e.Format)
		}
		if e.Method != "" {
			fmt.Fprintf(&b, "    method: %s\n", e.Method)
		}
		if len(e.Events) > 0 {
			fmt.Fprintf(&b, "    events: [%s]\n", strings.Join(e.Events, ", "))
		}
		if len(e.Phones) > 0 {
			ids := make([]string, len(e.Phones))
			for i, id := range e.Phones {
				ids[i] = strconv.Itoa(id)
			}
			fmt.Fprintf(&b, "    phones: [%s]\n", strings.Join(ids, ", "))
		}
		fmt.Fprintf(&b, "    timeout: 5s\n    retry: {initial: 100ms, max_interval: 1s, max_age: 168h}\n")
	}
	fmt.Fprintf(&b, "delivery:\n  concurrency: 4\n  require_time_sync: false\n  retention: 168h\n")
	if l.opts.ExtraYAML != "" {
		b.WriteString(strings.TrimRight(l.opts.ExtraYAML, "\n") + "\n")
	}
	return b.String()
}

// SocketPath is the agent's API socket in the lab.
func (l *Lab) SocketPath() string { return filepath.Join(l.Dir, "api.sock") }
