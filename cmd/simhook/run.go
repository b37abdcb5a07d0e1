package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/internal/memtrim"
	"github.com/simhook/simhook/outbox"
)

// DefaultConfigPath is where the package installs the configuration.
const DefaultConfigPath = "/etc/simhook/simhook.yaml"

// runAgent is `simhook run`: the daemon. It loads and validates the
// configuration, watches it for changes (and reloads on SIGHUP), and runs the
// agent until SIGINT or SIGTERM.
func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "[--config FILE]", "Run the agent in the foreground (the systemd service) until SIGINT or SIGTERM;\nSIGHUP rereads the configuration.")
	path := fs.String("config", DefaultConfigPath, "configuration `file`")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if err := noArgs(fs, stderr); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	log := newLogger(stderr, cfg.Log)
	a, err := agent.New(cfg, agent.Options{Logger: log, Notifier: agent.NewNotifier(), CheckOutbox: childChecker()})
	if err != nil {
		return err
	}
	w, err := config.Watch(ctx, *path, config.WatchOptions{
		OnChange: func(c *config.Config) { _ = a.Apply(c) },
		OnError:  a.ConfigError,
		Logger:   log.With("component", "config"),
		Current:  cfg,
	})
	if err != nil {
		return err
	}
	defer w.Close()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	hupCtx, stopHup := context.WithCancel(ctx)
	defer stopHup()
	go func() {
		for {
			select {
			case <-hupCtx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading configuration")
				w.Reload()
			}
		}
	}()
	// Start-up touches most of the executable (and the kernel maps its
	// neighbours too); an idle daemon uses a few hundred KiB of it. Soon
	// after the agent is running, those pages leave its resident set.
	trimCtx, stopTrim := context.WithCancel(ctx)
	defer stopTrim()
	go func() {
		select {
		case <-trimCtx.Done():
			return
		case <-a.Ready():
		}
		select {
		case <-trimCtx.Done():
		case <-time.After(trimAfter):
			if n, err := memtrim.Executable(); err != nil {
				log.Debug("could not release the executable's start-up pages", "err", err)
			} else {
				log.Debug("released the executable's start-up pages", "bytes", n)
			}
		}
	}()
	return a.Run(ctx)
}

// trimAfter is how long after the agent is running the executable's
// start-up pages are released.
const trimAfter = 2 * time.Second

// newLogger builds the process logger from the configuration: text to
// stderr (the journal) by default, JSON when asked.
func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// childChecker checks outbox.db in a child simhook process (`simhook outbox
// check`), so that a damaged file cannot kill the daemon. Without its own
// executable it falls back to the in-process check.
func childChecker() outbox.Checker {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	return outbox.ChildChecker(exe, []string{"outbox", "check"}, outbox.CheckBudget)
}
