// Command noclock runs a program under the clock restrictions of simhook's
// systemd unit: adjtimex and clock_adjtime fail with EPERM.
//
//	noclock PROGRAM [ARG...]
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/simhook/simhook/internal/sandbox"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "noclock:", err)
		os.Exit(2)
	}
}

// run installs the filter and replaces this process with the program.
func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: noclock PROGRAM [ARG...]")
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return err
	}
	if err := sandbox.DenyClock(); err != nil {
		return err
	}
	if err := syscall.Exec(path, args, os.Environ()); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil
}
