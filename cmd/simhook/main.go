// Command simhook is the SMS/GSM gateway agent: it drives USB GSM modems and
// turns what happens on them into signed webhooks.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/simhook/simhook"
	"github.com/simhook/simhook/webhook"
)

func main() {
	webhook.UserAgent = "simhook/" + simhook.Version
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ec exitCode
		if errors.As(err, &ec) {
			os.Exit(int(ec))
		}
		fmt.Fprintln(os.Stderr, "simhook:", err)
		os.Exit(1)
	}
}

// exitCode is an error that carries only a process exit status; the command
// has already printed what went wrong.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// run dispatches the sub-command named by args[0].
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return exitCode(2)
	}
	switch args[0] {
	case "run":
		return runAgent(ctx, args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "config":
		return configCheck(args[1:], stdout, stderr)
	case "send":
		return sendCmd(ctx, args[1:], stdout, stderr)
	case "phone":
		return phoneCmd(ctx, args[1:], stdout, stderr)
	case "ussd":
		return ussdCmd(ctx, args[1:], stdout, stderr)
	case "fleet":
		return fleetCmd(ctx, args[1:], stdout, stderr)
	case "receive":
		return receiveCmd(ctx, args[1:], stdout, stderr)
	case "verify":
		return verifyCmd(args[1:], os.Stdin, stdout, stderr)
	case "webhook":
		return webhookCmd(ctx, args[1:], stdout, stderr)
	case "outbox":
		return outboxCmd(ctx, args[1:], stdout, stderr)
	case "bench":
		return benchCmd(ctx, args[1:], stdout, stderr)
	case "completion":
		return completionCmd(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fs := newFlagSet("version", "", "Print the version.")
		if err := parseFlags(fs, args[1:], stdout, stderr); err != nil {
			return err
		}
		if err := noArgs(fs, stderr); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "simhook %s\n", simhook.Version)
		return nil
	case "help", "--help", "-h":
		if len(args) > 1 && args[1] != "help" && args[1] != "--help" && args[1] != "-h" {
			return run(ctx, []string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return nil
	default:
		fmt.Fprintf(stderr, "simhook: unknown command %q\n", args[0])
		usage(stderr)
		return exitCode(2)
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: simhook <command> [arguments]

Commands:
  run [--config FILE]      run the agent (the systemd service)
  demo [--keep]            run the whole flow on a simulated modem and a local receiver
  config check [FILE]      validate a configuration file
  send                     send an SMS through the running agent
  receive                  run a verifying webhook receiver
  verify                   verify one captured webhook request
  webhook test             send sample events to a configured endpoint
  outbox ...               inspect and replay the outbox
  phone ...                list, enable and disable phones
  ussd --phone N CODE      send a USSD code (e.g. a balance check) and print the answer
  fleet ls                 list the phones of every gateway in the fleet (NATS)
  bench                    measure latency, throughput and footprint on the simulator
  version                  print the version
  completion bash          print a bash completion script
  help [COMMAND]           print this help, or a command's

Flags may come before, between or after the arguments; "--" ends them.
Run 'simhook COMMAND --help' for a command's arguments and flags.
`)
}
