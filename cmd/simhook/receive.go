package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/simhook/simhook/receiver"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// receiveCmd is `simhook receive`: a verifying receiver for installers. It
// prints a verdict for every request and can append events as JSON lines.
func receiveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("receive", "--secret S [--listen ADDR] [--jsonl FILE] [flags]", "Run a local webhook receiver that verifies every request and prints a verdict.")
	listen := fs.String("listen", "127.0.0.1:8080", "`address` to listen on")
	var secrets stringList
	fs.Var(&secrets, "secret", "endpoint `secret` (repeat while rotating; current first)")
	secretFile := fs.String("secret-file", "", "read the secret from `file`")
	jsonl := fs.String("jsonl", "", "append each verdict as a JSON line to `file`")
	tolerance := fs.Duration("tolerance", 0, "allowed clock difference (default 5m)")
	legacy := fs.Bool("allow-legacy-only", false, "accept requests that carry only the legacy RaspiSMS signature")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if err := noArgs(fs, stderr); err != nil {
		return err
	}
	if *secretFile != "" {
		data, err := os.ReadFile(*secretFile)
		if err != nil {
			return fmt.Errorf("secret file: %w", err)
		}
		secrets = append(secrets, string(trimNewline(data)))
	}
	if len(secrets) == 0 {
		return usageError(fs, stderr, "--secret or --secret-file is required")
	}
	opts := receiver.Options{
		Secrets:         secrets,
		Tolerance:       *tolerance,
		AllowLegacyOnly: *legacy,
		Out:             stdout,
		Color:           isTerminal(stdout),
		Logger:          slog.New(slog.DiscardHandler),
	}
	if *jsonl != "" {
		f, err := os.OpenFile(*jsonl, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("jsonl: %w", err)
		}
		defer f.Close()
		opts.JSONL = f
	}
	rcv := receiver.New(opts)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "simhook receive: listening on http://%s/ (Ctrl-C to stop)\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	st := rcv.Stats()
	fmt.Fprintf(stderr, "simhook receive: %d accepted, %d duplicates, %d rejected\n", st.Accepted, st.Duplicates, st.Rejected)
	return nil
}

// trimNewline drops the trailing newline a secret file usually has.
func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// isTerminal reports whether w is a character device (colours help there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
