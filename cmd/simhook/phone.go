package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

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
	rest := fs.Args()
	want := 1
	switch {
	case len(rest) == 0 || rest[0] == "list" || rest[0] == "ls":
		want = 0
	case rest[0] == "trace" || rest[0] == "enable" || rest[0] == "disable" || rest[0] == "reset":
	default:
		return usageError(fs, stderr, "unknown command %q", rest[0])
	}
	if len(rest) > 0 {
		if got := len(rest) - 1; got < want {
			return usageError(fs, stderr, "%s: missing phone ID", rest[0])
		} else if got > want {
			return usageError(fs, stderr, "%s: unexpected argument %q", rest[0], rest[1+want])
		}
	}
	c := newAPIClient(*socket)
	var out json.RawMessage
	var err error
	switch {
	case len(rest) == 0 || rest[0] == "list" || rest[0] == "ls":
		err = c.do(ctx, "GET", "/v1/phones", nil, &out)
	case rest[0] == "trace":
		return c.stream(ctx, fmt.Sprintf("/v1/phones/%s/trace?seconds=%d", rest[1], *seconds), func(line []byte) error {
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
		err = c.do(ctx, "POST", fmt.Sprintf("/v1/phones/%s/%s", rest[1], rest[0]), nil, &out)
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
