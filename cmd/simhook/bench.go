package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/simhook/simhook/bench"
)

// benchCmd is `simhook bench`: it runs the real agent against simulated
// modems and a local verifying receiver, prints a table and writes JSON.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d := bench.Defaults()
	fs := newFlagSet("bench", "[--quick] [--json FILE] [flags]", "Measure latency, throughput and footprint on the simulator (see BENCHMARKS.md).")
	quick := fs.Bool("quick", false, "small counts, for a smoke run (figures are not comparable)")
	fs.IntVar(&d.Count, "count", d.Count, "single-part SMS for the latency figures")
	fs.IntVar(&d.Burst, "burst", d.Burst, "burst size")
	fs.DurationVar(&d.Delay, "delay", d.Delay, "modem reply delay for the delayed figures (0 skips them)")
	fs.IntVar(&d.DelayedCount, "delayed-count", d.DelayedCount, "SMS for the delayed latency figures")
	fs.IntVar(&d.Startup, "startup", d.Startup, "SMS stored on the modem before the agent starts")
	fs.IntVar(&d.OutboxEvents, "outbox-events", d.OutboxEvents, "backlog size for the outbox figures")
	footprint := fs.Bool("footprint", true, "measure this binary's idle and drain footprint as a separate `simhook run` process")
	fs.DurationVar(&d.Idle, "idle", d.Idle, "idle time for the footprint")
	sizes := fs.Bool("sizes", false, "build every architecture from the source tree in the current directory and report binary sizes")
	jsonPath := fs.String("json", "bench-results.json", "write the results to `file` (empty: don't)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if err := noArgs(fs, stderr); err != nil {
		return err
	}
	if *quick {
		d.Count, d.Burst, d.DelayedCount, d.Startup, d.OutboxEvents = 100, 20, 20, 50, 5000
		d.Delay, d.Idle, d.DrainSMS = 100*time.Millisecond, 5*time.Second, 60
	}
	if *footprint {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		d.Binary = exe
	}
	if *sizes {
		d.ModuleDir = "."
	}
	d.Progress = stderr
	r, err := bench.Run(ctx, d)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	r.WriteTable(stdout)
	if *jsonPath != "" {
		if err := r.WriteJSON(*jsonPath); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "bench: wrote %s\n", *jsonPath)
	}
	return nil
}
