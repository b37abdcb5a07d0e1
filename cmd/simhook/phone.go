package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// maxTraceSeconds is the longest trace the agent streams.
const maxTraceSeconds = 3600

// phoneArgs is how many positional arguments each phone command takes.
var phoneArgs = map[string]argSpec{
	"ls": {}, "list": {},
	"enable":  {1, 1, "phone ID"},
	"disable": {1, 1, "phone ID"},
	"reset":   {1, 1, "phone ID"},
	"trace":   {1, 1, "phone ID"},
}

// phoneCmd is `simhook phone list|enable ID|disable ID|reset ID|trace ID`,
// over the running agent's API. reset sends AT+CFUN=1,1: the modem restarts
// and re-enumerates, and the phone comes back by itself. trace streams the
// AT conversation ("> " written, "< " read, PINs masked) for --seconds.
func phoneCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("phone", "<command> [--socket PATH]", `Commands:
  ls, list                 the phones and their state (the default)
  enable ID                let phone ID send again
  disable ID               stop sending through phone ID
  reset ID                 restart the modem (AT+CFUN=1,1); it comes back by itself
  trace ID [--seconds S]   stream the AT conversation (PINs masked)`)
	socket := fs.String("socket", DefaultSocket, "agent API socket `path`")
	seconds := fs.Int("seconds", 30, "with trace: how long to stream, in `seconds` (at most 3600)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	cmd, args, err := checkArgs(fs, stderr, phoneArgs, "ls")
	if err != nil {
		return err
	}
	id := 0
	if len(args) == 1 {
		if id, err = strconv.Atoi(args[0]); err != nil || id < 1 {
			return usageError(fs, stderr, "%s: %q is not a phone ID", cmd, args[0])
		}
	}
	c := newAPIClient(*socket)
	var out json.RawMessage
	switch cmd {
	case "ls", "list":
		err = c.do(ctx, "GET", "/v1/phones", nil, &out)
	case "trace":
		if *seconds < 1 || *seconds > maxTraceSeconds {
			return usageError(fs, stderr, "trace: --seconds %d is not between 1 and %d", *seconds, maxTraceSeconds)
		}
		return c.stream(ctx, fmt.Sprintf("/v1/phones/%d/trace?seconds=%d", id, *seconds), func(line []byte) error {
			var l struct{ At, Dir, Line string }
			if err := json.Unmarshal(line, &l); err != nil {
				return fmt.Errorf("trace: %w", err)
			}
			arrow := "<"
			if l.Dir == "w" {
				arrow = ">"
			}
			_, err := fmt.Fprintf(stdout, "%s %s %s\n", l.At, arrow, l.Line)
			return err
		})
	default: // enable, disable, reset
		err = c.do(ctx, "POST", fmt.Sprintf("/v1/phones/%d/%s", id, cmd), nil, &out)
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
