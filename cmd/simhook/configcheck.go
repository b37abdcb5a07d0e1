package main

import (
	"fmt"
	"io"

	"github.com/simhook/simhook/config"
)

// configCheck is `simhook config check [FILE]`: it validates a file and
// prints every error, or the effective configuration with the defaults filled
// in and the secrets redacted.
func configCheck(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: simhook config check [FILE]")
		return exitCode(2)
	}
	path := DefaultConfigPath
	if len(args) > 1 {
		path = args[1]
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "%s: invalid configuration:\n%v\n", path, err)
		return exitCode(1)
	}
	out, err := cfg.Redacted().Marshal()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# %s: valid. Effective configuration (defaults filled in, secrets redacted):\n", path)
	_, err = stdout.Write(out)
	return err
}
