package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/simhook/simhook/agent"
)

// ussdCmd is `simhook ussd`: it sends a USSD code (a balance check, say)
// through a phone of the running agent and prints the network's answer.
func ussdCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ussd", "--phone N [--timeout 30s] [--json] [--socket PATH] CODE", "Send a USSD code such as *100# through a phone and print the network's answer.")
	phone := fs.Int("phone", 0, "phone `id` to ask through (required)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the network's answer (1s to 50s)")
	asJSON := fs.Bool("json", false, "print the whole answer as JSON (status, text, data coding scheme)")
	socket := fs.String("socket", DefaultSocket, "agent API socket `path`")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return usageError(fs, stderr, "missing the USSD code, e.g. '*100#'")
	case fs.NArg() > 1:
		return usageError(fs, stderr, "unexpected argument %q", fs.Arg(1))
	case *phone < 1:
		return usageError(fs, stderr, "--phone is required")
	}
	req := agent.USSDRequest{Phone: *phone, Code: fs.Arg(0), Timeout: timeout.String()}
	var out json.RawMessage
	c := newAPIClient(*socket)
	c.http.Timeout = *timeout + 30*time.Second // the agent may wait for the modem before asking
	if err := c.do(ctx, "POST", "/v1/ussd", req, &out); err != nil {
		return err
	}
	if *asJSON {
		_, err := stdout.Write(out)
		return err
	}
	var res agent.USSDResult
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("ussd: the agent's answer: %w", err)
	}
	_, err := fmt.Fprintln(stdout, res.Text)
	return err
}
