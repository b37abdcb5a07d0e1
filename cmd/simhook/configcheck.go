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
	fs := newFlagSet("config", "check [FILE]", "Validate a configuration file (default "+DefaultConfigPath+"): print every error,\nor the effective configuration with defaults filled in and secrets redacted.")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return usageError(fs, stderr, "missing command")
	case fs.Arg(0) != "check":
		return usageError(fs, stderr, "unknown command %q", fs.Arg(0))
	case fs.NArg() > 2:
		return usageError(fs, stderr, "unexpected argument %q", fs.Arg(2))
	}
	path := DefaultConfigPath
	if fs.NArg() == 2 {
		path = fs.Arg(1)
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
