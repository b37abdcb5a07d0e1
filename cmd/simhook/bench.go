package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/simhook/simhook/bench"
)

// benchCmd is `simhook bench`: it runs the real agent against simulated
// modems and a local verifying receiver, prints a table and writes JSON.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d := bench.Defaults()
	fs := newFlagSet("bench", "[--quick | --idle-only | --growth] [--json FILE] [flags]", "Measure latency, throughput and footprint on the simulator (see BENCHMARKS.md).")
	quick := fs.Bool("quick", false, "small counts, for a smoke run (figures are not comparable)")
	fs.IntVar(&d.Count, "count", d.Count, "single-part SMS for the latency figures")
	fs.IntVar(&d.Burst, "burst", d.Burst, "burst size")
	fs.DurationVar(&d.Delay, "delay", d.Delay, "modem reply delay for the delayed figures (0 skips them)")
	fs.IntVar(&d.DelayedCount, "delayed-count", d.DelayedCount, "SMS for the delayed latency figures")
	fs.IntVar(&d.Startup, "startup", d.Startup, "SMS stored on the modem before the agent starts")
	fs.IntVar(&d.OutboxEvents, "outbox-events", d.OutboxEvents, "backlog size for the outbox figures")
	footprint := fs.Bool("footprint", true, "measure this binary's idle and drain footprint as a separate `simhook run` process")
	fs.DurationVar(&d.Idle, "idle", d.Idle, "idle time for the footprint")
	idlePhones := fs.String("footprint-phones", joinInts(d.IdlePhones), "phone `counts` to measure the idle agent with, one row each (empty: none)")
	fs.DurationVar(&d.IdleFor, "footprint-idle", d.IdleFor, "idle window for each of those counts (the targets are stated for 30s)")
	binary := fs.String("footprint-binary", "", "measure this simhook `executable` instead of the running one (build it as shipped: CGO_ENABLED=0 -trimpath -ldflags='-s -w')")
	idleOnly := fs.Bool("idle-only", false, "measure only the idle footprint for --footprint-phones")
	sizes := fs.Bool("sizes", false, "build every architecture from the source tree in the current directory and report binary sizes")
	growth := fs.Bool("growth", false, "measure only the outbox file's size under a steady load, day by simulated day (see --growth-*)")
	g := bench.GrowthDefaults()
	fs.IntVar(&g.Days, "growth-days", g.Days, "simulated days of steady load")
	fs.IntVar(&g.SMSPerDay, "growth-sms", g.SMSPerDay, "received SMS per simulated day")
	fs.IntVar(&g.SendsPerDay, "growth-sends", g.SendsPerDay, "send requests per simulated day")
	growthRetention := fs.String("growth-retention", "168h,48h", "delivery.retention `durations` to run the load with, one curve each")
	fs.BoolVar(&g.Sync, "growth-sync", false, "fsync every commit as the daemon does (slower; the same records kept, the pages within about 10 %)")
	fleetOnly := fs.Bool("fleet", false, "measure only the fleet: three gateways sharing a nats-server's send queue, and one outbox draining into the events stream against a webhook (needs nats-server)")
	fo := bench.DefaultFleet()
	fs.IntVar(&fo.Requests, "fleet-requests", fo.Requests, "send requests published for the fleet's hand-over latency")
	fs.IntVar(&fo.Events, "fleet-events", fo.Events, "events drained into the stream and to the webhook")
	jsonPath := fs.String("json", "bench-results.json", "write the results to `file` (empty: don't)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if err := noArgs(fs, stderr); err != nil {
		return err
	}
	if *fleetOnly {
		if *quick {
			fo.Requests, fo.Events = 60, 2000
		}
		f, err := bench.MeasureFleet(ctx, fo)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		bench.WriteFleetTable(stdout, fo, f)
		return writeJSONFile(*jsonPath, f, stderr)
	}
	if *growth {
		rets, err := parseDurations(*growthRetention)
		if err != nil || len(rets) == 0 || g.Days <= 0 || g.SMSPerDay < 0 || g.SendsPerDay < 0 {
			return usageError(fs, stderr, "--growth needs --growth-days above 0, counts not below 0 and at least one --growth-retention (%v)", err)
		}
		if *quick {
			g.Days, g.SMSPerDay, g.SendsPerDay = 10, 240, 72
		}
		return growthBench(ctx, g, rets, *jsonPath, stdout, stderr)
	}
	if *quick {
		d.Count, d.Burst, d.DelayedCount, d.Startup, d.OutboxEvents = 100, 20, 20, 50, 5000
		d.Delay, d.Idle, d.DrainSMS, d.IdleFor = 100*time.Millisecond, 5*time.Second, 60, 5*time.Second
	}
	var err error
	if d.IdlePhones, err = parseInts(*idlePhones); err != nil {
		return usageError(fs, stderr, "--footprint-phones: %v", err)
	}
	if *idleOnly {
		if len(d.IdlePhones) == 0 {
			return usageError(fs, stderr, "--idle-only needs --footprint-phones")
		}
		d.Count, d.DelayedCount, d.Startup, d.OutboxEvents, d.FootprintPhones = 0, 0, 0, 0, 0
		*footprint = true
	}
	if *footprint {
		d.Binary = *binary
		if d.Binary == "" {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			d.Binary = exe
		}
	}
	if *sizes {
		d.ModuleDir = "."
	}
	if !*footprint {
		d.IdlePhones = nil
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

// growthBench runs the steady load of g once per retention and prints a
// curve for each.
func growthBench(ctx context.Context, g bench.GrowthOptions, retentions []time.Duration, jsonPath string, stdout, stderr io.Writer) error {
	g.Progress = stderr
	var all []*bench.Growth
	for _, ret := range retentions {
		g.Retention = ret
		fmt.Fprintf(stderr, "bench: file size under steady load, retention %s\n", ret)
		r, err := bench.MeasureGrowth(ctx, g)
		if err != nil {
			return err
		}
		all = append(all, r)
	}
	fmt.Fprintln(stdout)
	for _, r := range all {
		r.WriteTable(stdout)
	}
	return writeJSONFile(jsonPath, all, stderr)
}

// writeJSONFile writes v as indented JSON to path ("" writes nothing).
func writeJSONFile(path string, v any, stderr io.Writer) error {
	if path == "" {
		return nil
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: wrote %s\n", path)
	return nil
}

// parseDurations reads a comma-separated list of positive durations.
func parseDurations(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%q is not a positive duration", f)
		}
		out = append(out, d)
	}
	return out, nil
}

// parseInts reads a comma-separated list of positive counts.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive count", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// joinInts writes counts as parseInts reads them.
func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
