package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
)

// phoneCmd is `simhook phone list|enable ID|disable ID|reset ID`, over the
// running agent's API. reset sends AT+CFUN=1,1: the modem restarts and
// re-enumerates, and the phone comes back by itself.
func phoneCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("phone", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", DefaultSocket, "agent API `socket`")
	if err := fs.Parse(args); err != nil {
		return exitCode(2)
	}
	c := newAPIClient(*socket)
	var out json.RawMessage
	var err error
	switch rest := fs.Args(); {
	case len(rest) == 0 || rest[0] == "list" || rest[0] == "ls":
		err = c.do(ctx, "GET", "/v1/phones", nil, &out)
	case len(rest) == 2 && (rest[0] == "enable" || rest[0] == "disable" || rest[0] == "reset"):
		err = c.do(ctx, "POST", fmt.Sprintf("/v1/phones/%s/%s", rest[1], rest[0]), nil, &out)
	default:
		fmt.Fprintln(stderr, "usage: simhook phone [--socket S] list | enable ID | disable ID | reset ID")
		return exitCode(2)
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
