package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// newFlagSet returns the flag set of `simhook name`. Its usage, printed by
// --help and after a usage error, is one style for every command: the
// synopsis line, an optional description, and the flags as --name VALUE.
func newFlagSet(name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("simhook "+name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, strings.TrimSpace("Usage: simhook "+name+" "+synopsis))
		if about != "" {
			fmt.Fprintf(w, "\n%s\n", strings.TrimRight(about, "\n"))
		}
		printFlags(w, fs)
	}
	return fs
}

// printFlags lists the flags of fs, with their value names and defaults.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "\nFlags:")
	fs.VisitAll(func(f *flag.Flag) {
		value, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if !isBoolFlag(f) {
			if value == "" {
				value = "value"
			}
			line += " " + strings.ToUpper(value)
		}
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "0s" && f.DefValue != "[]" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n    \t%s\n", line, usage)
	})
	fmt.Fprintln(w, "  -h, --help\n    \tprint this help")
}

// isBoolFlag reports whether f takes no value (--flag alone sets it).
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// errHelp asks for the command's help.
var errHelp = errors.New("help requested")

// splitArgs separates the flags of fs from the positional arguments so that
// flags may come before, between or after them. A flag that takes a value
// takes the next argument unless it is written --flag=value; bool flags take
// none; "--" ends the flags; "-" alone is positional. Unknown flags are kept
// for fs.Parse to report. It returns errHelp if -h, -help or --help (and fs
// defines no flag of that name) comes before "--" and the line has no other
// error.
func splitArgs(fs *flag.FlagSet, args []string) (flags, positional []string, err error) {
	help := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		f := fs.Lookup(name)
		if f == nil && (name == "h" || name == "help") {
			help = true
			continue
		}
		flags = append(flags, a)
		if f == nil || hasValue || isBoolFlag(f) {
			continue
		}
		if i+1 == len(args) {
			err = fmt.Errorf("flag needs an argument: %s", a)
			break
		}
		i++
		flags = append(flags, args[i])
	}
	if help && err == nil {
		return flags, positional, errHelp
	}
	return flags, positional, err
}

// parseFlags parses args into fs with flags anywhere on the line (see
// splitArgs); fs.Args() then holds the positional arguments in order. On a
// usage error (an unknown flag, a bad or missing value) it prints the error
// and the usage to stderr and returns exitCode(2), even when the line asks
// for help. On -h/--help with otherwise valid flags it prints the usage to
// stdout and returns exitCode(0), before anything else happens.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	flags, positional, err := splitArgs(fs, args)
	help := errors.Is(err, errHelp)
	if err != nil && !help {
		return usageError(fs, stderr, "%v", err)
	}
	fs.SetOutput(stderr)
	if err := fs.Parse(append(append(flags, "--"), positional...)); err != nil {
		return exitCode(2)
	}
	if help {
		fs.SetOutput(stdout)
		fs.Usage()
		return exitCode(0)
	}
	return nil
}

// usageError prints msg and the usage of fs to stderr and returns the usage
// exit status, 2.
func usageError(fs *flag.FlagSet, stderr io.Writer, format string, a ...any) error {
	fmt.Fprintf(stderr, "%s: %s\n", fs.Name(), fmt.Sprintf(format, a...))
	fs.SetOutput(stderr)
	fs.Usage()
	return exitCode(2)
}

// noArgs returns a usage error if fs has positional arguments left.
func noArgs(fs *flag.FlagSet, stderr io.Writer) error {
	if fs.NArg() > 0 {
		return usageError(fs, stderr, "unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// argSpec is how many positional arguments a sub-command takes, and the
// name of the first in messages.
type argSpec struct {
	min, max int
	name     string
}

// checkArgs checks the sub-command named by fs.Arg(0) against table and
// the number of arguments after it. With no sub-command on the line it uses
// dflt, or is a usage error if dflt is "". It returns the sub-command and
// its arguments, or a usage error (exit 2) already printed.
func checkArgs(fs *flag.FlagSet, stderr io.Writer, table map[string]argSpec, dflt string) (string, []string, error) {
	if fs.NArg() == 0 {
		if dflt == "" {
			return "", nil, usageError(fs, stderr, "missing command")
		}
		return dflt, nil, nil
	}
	cmd, args := fs.Arg(0), fs.Args()[1:]
	want, ok := table[cmd]
	switch {
	case !ok:
		return "", nil, usageError(fs, stderr, "unknown command %q", cmd)
	case len(args) > want.max:
		return "", nil, usageError(fs, stderr, "%s: unexpected argument %q", cmd, args[want.max])
	case len(args) < want.min:
		return "", nil, usageError(fs, stderr, "%s: missing %s", cmd, want.name)
	}
	return cmd, args, nil
}
