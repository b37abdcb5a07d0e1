package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/simhook/simhook"
)

// Options chooses what to measure and how much. Zero counts skip a figure.
type Options struct {
	// Count single-part SMS for the latency figures at zero modem delay.
	Count int
	// Burst is the size of the bursts in the second latency figure.
	Burst int
	// Delay is a real modem's reply time for the delayed figures, and
	// DelayedCount how many SMS those use (each costs several commands).
	Delay        time.Duration
	DelayedCount int
	// Startup is how many SMS wait on the modem when the agent starts.
	Startup int
	// OutboxEvents is the size of the backlog for the outbox figures.
	OutboxEvents int
	// Binary, if set, is a simhook executable to measure the footprint of,
	// with FootprintPhones modems, idle for Idle, then draining DrainSMS.
	Binary          string
	FootprintPhones int
	Idle            time.Duration
	DrainSMS        int
	// IdlePhones, if set, are the phone counts to measure Binary idle
	// with, IdleFor each after IdleSettle (default IdleWindow and
	// IdleSettle); see MeasureIdle.
	IdlePhones []int
	IdleFor    time.Duration
	IdleSettle time.Duration
	// ModuleDir, if set, is the source tree to build the binaries of every
	// architecture from, for their sizes.
	ModuleDir string
	// Progress receives a line as each figure starts; nil is silent.
	Progress io.Writer
}

// Defaults are the figures BENCHMARKS.md reports.
func Defaults() Options {
	return Options{
		Count: 1000, Burst: 50, Delay: 200 * time.Millisecond, DelayedCount: 100, Startup: 200,
		OutboxEvents: 100_000, FootprintPhones: 3, Idle: time.Minute, DrainSMS: 600,
		IdlePhones: []int{1, 16}, IdleFor: IdleWindow, IdleSettle: IdleSettle,
	}
}

// Results are the measured figures.
type Results struct {
	Version string    `json:"version"`
	Date    time.Time `json:"date"`
	Machine string    `json:"machine"`
	Options Options   `json:"options"`

	Single        Latencies `json:"latency_single"`
	Bursts        Latencies `json:"latency_bursts"`
	SingleDelayed Latencies `json:"latency_single_delayed"`
	BurstsDelayed Latencies `json:"latency_bursts_delayed"`

	StartupDrain        time.Duration `json:"startup_drain_ns"`
	StartupDrainDelayed time.Duration `json:"startup_drain_delayed_ns"`

	Outbox    *OutboxFigures   `json:"outbox,omitempty"`
	Footprint *Footprint       `json:"footprint,omitempty"`
	Idle      []Idle           `json:"idle,omitempty"`
	Sizes     map[string]int64 `json:"binary_sizes,omitempty"`
}

// Run measures every figure o asks for.
func Run(ctx context.Context, o Options) (*Results, error) {
	r := &Results{Version: simhook.Version, Date: time.Now().UTC(), Machine: machine(), Options: o}
	step := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "bench: "+format+"\n", args...)
		}
	}
	var err error
	if o.Count > 0 {
		step("latency, %d SMS one at a time", o.Count)
		if r.Single, err = Latency(ctx, o.Count, 1, 0); err != nil {
			return r, fmt.Errorf("latency: %w", err)
		}
		step("latency, %d SMS in bursts of %d", o.Count, o.Burst)
		if r.Bursts, err = Latency(ctx, o.Count, o.Burst, 0); err != nil {
			return r, fmt.Errorf("burst latency: %w", err)
		}
	}
	if o.DelayedCount > 0 && o.Delay > 0 {
		step("latency with a %s modem, %d SMS one at a time", o.Delay, o.DelayedCount)
		if r.SingleDelayed, err = Latency(ctx, o.DelayedCount, 1, o.Delay); err != nil {
			return r, fmt.Errorf("delayed latency: %w", err)
		}
		step("latency with a %s modem, %d SMS in bursts of %d", o.Delay, o.DelayedCount, o.Burst)
		if r.BurstsDelayed, err = Latency(ctx, o.DelayedCount, o.Burst, o.Delay); err != nil {
			return r, fmt.Errorf("delayed burst latency: %w", err)
		}
	}
	if o.Startup > 0 {
		step("start-up drain of %d stored SMS", o.Startup)
		if r.StartupDrain, err = StartupDrain(ctx, o.Startup, 0); err != nil {
			return r, fmt.Errorf("start-up drain: %w", err)
		}
		if o.Delay > 0 {
			step("start-up drain of %d stored SMS with a %s modem", o.Startup, o.Delay)
			if r.StartupDrainDelayed, err = StartupDrain(ctx, o.Startup, o.Delay); err != nil {
				return r, fmt.Errorf("delayed start-up drain: %w", err)
			}
		}
	}
	if o.OutboxEvents > 0 {
		step("outbox: enqueue and drain %d events", o.OutboxEvents)
		f, err := MeasureOutbox(ctx, o.OutboxEvents)
		if err != nil {
			return r, fmt.Errorf("outbox: %w", err)
		}
		r.Outbox = &f
	}
	if o.Binary != "" && o.FootprintPhones > 0 {
		step("footprint of %s: %d phones idle for %s, then a drain of %d SMS", o.Binary, o.FootprintPhones, o.Idle, o.DrainSMS)
		f, err := MeasureFootprint(ctx, o.Binary, o.FootprintPhones, o.Idle, o.DrainSMS)
		if err != nil {
			return r, fmt.Errorf("footprint: %w", err)
		}
		r.Footprint = &f
	}
	if o.Binary != "" {
		idle, settle := o.IdleFor, o.IdleSettle
		if idle <= 0 {
			idle = IdleWindow
		}
		if settle <= 0 {
			settle = IdleSettle
		}
		for _, n := range o.IdlePhones {
			step("idle footprint of %s: %d phones, %s after %s settling", o.Binary, n, idle, settle)
			f, err := MeasureIdle(ctx, o.Binary, n, idle, settle)
			if err != nil {
				return r, fmt.Errorf("idle footprint, %d phones: %w", n, err)
			}
			r.Idle = append(r.Idle, f)
		}
	}
	if o.ModuleDir != "" {
		step("binary sizes")
		if r.Sizes, err = BinarySizes(ctx, o.ModuleDir); err != nil {
			return r, fmt.Errorf("sizes: %w", err)
		}
	}
	return r, nil
}

// WriteJSON writes the results as indented JSON.
func (r *Results) WriteJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// WriteTable prints the results for a person.
func (r *Results) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "simhook %s — %s — %s\n\n", r.Version, r.Date.Format("2006-01-02 15:04 MST"), r.Machine)
	if r.Single.N+r.Bursts.N+r.SingleDelayed.N+r.BurstsDelayed.N > 0 {
		r.writeLatencies(w)
	}
	if r.StartupDrain > 0 || r.StartupDrainDelayed > 0 || r.Outbox != nil || r.Footprint != nil || len(r.Sizes) > 0 {
		r.writeFigures(w)
	}
	if len(r.Idle) > 0 {
		WriteIdleTable(w, r.Idle)
	}
}

// writeLatencies prints the latency table.
func (r *Results) writeLatencies(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tmodem delay\tn\tp50\tp99\tmax")
	lat := func(name string, delay time.Duration, l Latencies) {
		if l.N > 0 {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", name, delay, l.N, ms(l.P50), ms(l.P99), ms(l.Max))
		}
	}
	lat("+CMTI → verified webhook, one at a time", 0, r.Single)
	lat(fmt.Sprintf("+CMTI → verified webhook, bursts of %d", r.Options.Burst), 0, r.Bursts)
	lat("+CMTI → verified webhook, one at a time", r.Options.Delay, r.SingleDelayed)
	lat(fmt.Sprintf("+CMTI → verified webhook, bursts of %d", r.Options.Burst), r.Options.Delay, r.BurstsDelayed)
	tw.Flush()
	fmt.Fprintln(w)
}

// writeFigures prints the table of single figures.
func (r *Results) writeFigures(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue")
	if r.StartupDrain > 0 {
		fmt.Fprintf(tw, "start-up drain, %d stored SMS (no delay)\t%s\n", r.Options.Startup, ms(r.StartupDrain))
	}
	if r.StartupDrainDelayed > 0 {
		fmt.Fprintf(tw, "start-up drain, %d stored SMS (%s modem)\t%s\n", r.Options.Startup, r.Options.Delay, ms(r.StartupDrainDelayed))
	}
	if o := r.Outbox; o != nil {
		fmt.Fprintf(tw, "outbox durable enqueue, one writer\t%.0f events/s\n", o.EnqueueSerial)
		fmt.Fprintf(tw, "outbox durable enqueue, %d writers\t%.0f events/s\n", o.Writers, o.EnqueueConcurrent)
		fmt.Fprintf(tw, "outbox drain of %d events to the receiver\t%.0f events/s (%s)\n", o.Events, o.DrainRate, ms(o.Drain))
	}
	if f := r.Footprint; f != nil {
		fmt.Fprintf(tw, "idle RSS, %d phones\t%.1f MB\n", f.Phones, mb(f.IdleRSS))
		fmt.Fprintf(tw, "idle CPU, %d phones\t%.3f CPU-s/min\n", f.Phones, f.IdleCPUPerMin.Seconds())
		fmt.Fprintf(tw, "peak RSS draining %d SMS\t%.1f MB\n", f.DrainMessages, mb(f.DrainPeakRSS))
	}
	for _, t := range Targets {
		if n, ok := r.Sizes[t.Name]; ok {
			fmt.Fprintf(tw, "binary size %s\t%.1f MB\n", t.Name, mb(n))
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

// machine describes where the figures were taken.
func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s/%s, %d CPUs (%s), %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu, runtime.Version())
}
