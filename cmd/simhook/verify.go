package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/simhook/simhook/receiver"
)

// verifyCmd is `simhook verify`: it checks one captured request (raw HTTP as
// `nc -l` prints it, or only its form fields or JSON) against a secret and
// says which signatures pass. It exits 1 when the request is not valid.
func verifyCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", "--secret S [--tolerance D] [--allow-legacy-only] [FILE|-]", "Verify one captured webhook request (raw HTTP, or its form fields or JSON),\nread from FILE or standard input. Exit status 1: not valid.")
	var secrets stringList
	fs.Var(&secrets, "secret", "endpoint `secret` (repeatable)")
	tolerance := fs.Duration("tolerance", 0, "also judge the timestamp against now with this tolerance (default: only report the age)")
	legacy := fs.Bool("allow-legacy-only", false, "judge a request without Standard Webhooks headers on its legacy signature")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if len(secrets) == 0 {
		return usageError(fs, stderr, "--secret is required")
	}
	if fs.NArg() > 1 {
		return usageError(fs, stderr, "unexpected argument %q", fs.Arg(1))
	}
	var raw []byte
	var err error
	if fs.NArg() == 0 || fs.Arg(0) == "-" {
		raw, err = io.ReadAll(io.LimitReader(stdin, 8<<20))
	} else {
		raw, err = os.ReadFile(fs.Arg(0))
	}
	if err != nil {
		return fmt.Errorf("reading the capture: %w", err)
	}
	rep, err := receiver.VerifyCaptured(raw, secrets, time.Now(), *tolerance)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, rep.String())
	// Fields alone cannot carry the Standard Webhooks headers, so they are
	// judged on the legacy signature.
	if !rep.Valid(*legacy || !isHTTPRequest(raw)) {
		return exitCode(1)
	}
	return nil
}

// isHTTPRequest reports whether raw starts with an HTTP request line rather
// than bare fields.
func isHTTPRequest(raw []byte) bool {
	line, _, _ := bytes.Cut(raw, []byte("\n"))
	return bytes.Contains(line, []byte(" HTTP/1."))
}
