package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/simhook/simhook/agent"
)

// sendCmd is `simhook send`: it hands an SMS to the running agent, which
// commits it to its durable send queue before answering.
func sendCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("send", "--to NUMBER --text TEXT [--phone N] [--tag T] [--no-report] [--socket PATH]\n       simhook send --status ID [--socket PATH]", "Send an SMS through the running agent, or show the status of a send.")
	to := fs.String("to", "", "recipient, e.g. +33612345678")
	text := fs.String("text", "", "message text")
	phone := fs.Int("phone", 0, "phone id to send through (default: any phone that is up)")
	tag := fs.String("tag", "", "label carried in the send_sms webhook")
	noReport := fs.Bool("no-report", false, "do not request a delivery report")
	socket := fs.String("socket", DefaultSocket, "agent API socket `path`")
	status := fs.Uint64("status", 0, "instead of sending, show the status of send `ID`")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if err := noArgs(fs, stderr); err != nil {
		return err
	}
	c := newAPIClient(*socket)
	var out json.RawMessage
	if *status != 0 {
		if err := c.do(ctx, "GET", fmt.Sprintf("/v1/sms/%d", *status), nil, &out); err != nil {
			return err
		}
		_, err := stdout.Write(out)
		return err
	}
	report := !*noReport
	req := agent.SendRequest{To: *to, Text: *text, Phone: *phone, Tag: *tag, StatusReport: &report}
	if err := c.do(ctx, "POST", "/v1/sms", req, &out); err != nil {
		return err
	}
	_, err := stdout.Write(out)
	return err
}
