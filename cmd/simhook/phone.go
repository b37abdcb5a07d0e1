package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
)

// phoneCmd is `simhook phone list|enable ID|disable ID|reset ID|trace ID`,
// over the running agent's API. reset sends AT+CFUN=1,1: the modem restarts
// and re-enumerates, and the phone comes back by itself. trace streams the
// AT conversation ("> " written, "< " read, PINs masked) for --seconds.
func phoneCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("phone", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", DefaultSocket, "agent API `socket`")
	seconds := fs.Int("seconds", 30, "with trace: how long to stream, in `seconds` (at most 3600)")
	if err := fs.Parse(args); err != nil {
		return exitCode(2)
	}
	c := newAPIClient(*socket)
	var out json.RawMessage
	var err error
	switch rest := fs.Args(); {
	case len(rest) == 0 || rest[0] == "list" || rest[0] == "ls":
		err = c.do(ctx, "GET", "/v1/phones", nil, &out)
	case len(rest) == 2 && rest[0] == "trace":
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
	case len(rest) == 2 && (rest[0] == "enable" || rest[0] == "disable" || rest[0] == "reset"):
		err = c.do(ctx, "POST", fmt.Sprintf("/v1/phones/%s/%s", rest[1], rest[0]), nil, &out)
	default:
		fmt.Fprintln(stderr, "usage: simhook phone [--socket S] list | enable ID | disable ID | reset ID | trace ID [--seconds S]")
		return exitCode(2)
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
