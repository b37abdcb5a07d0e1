package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/simhook/simhook/lab"
)

// IdleTarget is the budget of issue 13 for an idle agent with Phones
// phones over one idle window.
type IdleTarget struct {
	Phones int
	CPU    time.Duration // CPU time over the window
	RSS    int64         // resident set, bytes
}

// IdleTargets are the budgets per 30 s idle window.
var IdleTargets = []IdleTarget{
	{Phones: 1, CPU: 5 * time.Millisecond, RSS: 12 << 20},
	{Phones: 16, CPU: 30 * time.Millisecond, RSS: 16 << 20},
}

// IdleWindow is the idle time the targets are stated for.
const IdleWindow = 30 * time.Second

// IdleSettle is how long an agent is left after its last phone came up
// before the idle window starts: the start-up sweep, the first webhooks of
// the phones' state and the garbage collections of start-up are over.
const IdleSettle = 5 * time.Second

// target returns the budget for phones, scaled to idle; ok is false when
// the issue states none for that count.
func target(phones int, idle time.Duration) (t IdleTarget, ok bool) {
	for _, t := range IdleTargets {
		if t.Phones == phones {
			t.CPU = time.Duration(float64(t.CPU) * float64(idle) / float64(IdleWindow))
			return t, true
		}
	}
	return IdleTarget{}, false
}

// Idle is what an idle `simhook run` process costs with Phones simulated
// modems, measured from /proc between two samples Idle apart, taken after
// every phone is up and the agent has settled.
type Idle struct {
	Phones int           `json:"phones"`
	Idle   time.Duration `json:"idle_ns"`
	// CPU is utime+stime from /proc/PID/stat: 10 ms ticks, too coarse for
	// the 1-phone target; RunCPU is the same time at nanosecond resolution,
	// summed over the threads' schedstat.
	CPU    time.Duration `json:"cpu_ns"`
	RunCPU time.Duration `json:"run_cpu_ns"`
	// Wakeups is the threads' context switches over the window.
	Wakeups int64 `json:"wakeups"`
	Threads int   `json:"threads"`
	// RSS (VmRSS) splits into RSSAnon and RSSFile; PSS charges the
	// binary's pages shared with other simhook processes proportionally.
	RSS     int64 `json:"rss_bytes"`
	RSSAnon int64 `json:"rss_anon_bytes"`
	RSSFile int64 `json:"rss_file_bytes"`
	PSS     int64 `json:"pss_bytes"`
	PSSAnon int64 `json:"pss_anon_bytes"`
	PSSFile int64 `json:"pss_file_bytes"`
	// Parts splits RSS by mapping; Touched is the part of each that the
	// agent referenced during the window (its idle working set), or nil
	// if the referenced bits could not be cleared.
	Parts   RSSParts  `json:"rss_parts"`
	Touched *RSSParts `json:"touched_parts,omitempty"`
	// Static is whether the binary was a CGO_ENABLED=0 build, as shipped.
	Static bool `json:"static"`
	// SharedWithBench is whether the binary is the measuring process's own
	// executable: its pages are then shared, which halves their Pss and
	// counts the bench's use of them as touched.
	SharedWithBench bool `json:"shared_with_bench"`
	// TargetCPU and TargetRSS are the budget for this count (zero: none).
	TargetCPU time.Duration `json:"target_cpu_ns,omitempty"`
	TargetRSS int64         `json:"target_rss_bytes,omitempty"`
}

// MeasureIdle runs binary as the agent (`simhook run`, its own process)
// with phones simulated modems, which stay in this process, waits until
// every phone is up and settle more, then measures the agent alone over
// idle.
func MeasureIdle(ctx context.Context, binary string, phones int, idle, settle time.Duration) (Idle, error) {
	r := Idle{Phones: phones, Idle: idle}
	if t, ok := target(phones, idle); ok {
		r.TargetCPU, r.TargetRSS = t.CPU, t.RSS
	}
	var err error
	if r.Static, err = isStatic(binary); err != nil {
		return r, err
	}
	if self, err := os.Executable(); err == nil {
		a, errA := os.Stat(self)
		b, errB := os.Stat(binary)
		r.SharedWithBench = errA == nil && errB == nil && os.SameFile(a, b)
	}
	l, err := lab.Start(ctx, lab.Options{Phones: phones, Stopped: true})
	if err != nil {
		return r, err
	}
	defer l.Close()
	p, err := l.StartProcess(ctx, binary)
	if err != nil {
		return r, err
	}
	defer p.Stop(10 * time.Second)
	if err := waitPhonesUp(ctx, l.SocketPath(), phones); err != nil {
		return r, fmt.Errorf("%w\n%s", err, p.Output())
	}
	if err := sleep(ctx, settle); err != nil {
		return r, err
	}
	before, err := readProc(p.Pid())
	if err != nil {
		return r, err
	}
	refsCleared := clearRefs(p.Pid()) == nil
	if err := sleep(ctx, idle); err != nil {
		return r, err
	}
	after, err := readProc(p.Pid())
	if err != nil {
		return r, err
	}
	r.CPU = after.StatCPU - before.StatCPU
	r.RunCPU = after.RunCPU - before.RunCPU
	r.Wakeups = after.Switches - before.Switches
	r.Threads = after.Threads
	r.RSS, r.RSSAnon, r.RSSFile = after.RSS, after.RSSAnon, after.RSSFile
	r.PSS, r.PSSAnon, r.PSSFile = after.PSS, after.PSSAnon, after.PSSFile
	parts, touched, err := readRSSParts(p.Pid(), binary)
	if err != nil {
		return r, err
	}
	r.Parts = parts
	if refsCleared {
		r.Touched = &touched
	}
	return r, nil
}

// waitPhonesUp polls the agent's API until phones phones report "up".
func waitPhonesUp(ctx context.Context, socket string, phones int) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(time.Minute)
	up := 0
	for {
		var list []struct {
			Status string `json:"status"`
		}
		resp, err := client.Get("http://simhook/v1/phones")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
		}
		if err == nil {
			up = 0
			for _, p := range list {
				if p.Status == "up" {
					up++
				}
			}
			if up == phones {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d phones up after a minute (last error: %v)", up, phones, err)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WriteIdleTable prints one row per phone count: CPU and memory against the
// targets, then where the resident set lives.
func WriteIdleTable(w io.Writer, rows []Idle) {
	if len(rows) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "idle agent\tphones\tidle s\tCPU-s stat\tCPU-s run\ttarget\twakeups/s\tthreads\tVmRSS MiB\tanon\tfile\tPss MiB\ttarget\t")
	for _, r := range rows {
		tcpu, trss := "—", "—"
		if r.TargetCPU > 0 {
			tcpu = fmt.Sprintf("≤ %.3f %s", r.TargetCPU.Seconds(), verdict(r.RunCPU <= r.TargetCPU))
			trss = fmt.Sprintf("≤ %.0f %s", mb(r.TargetRSS), verdict(r.RSS <= r.TargetRSS))
		}
		fmt.Fprintf(tw, "\t%d\t%.0f\t%.3f\t%.4f\t%s\t%.1f\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t\n",
			r.Phones, r.Idle.Seconds(), r.CPU.Seconds(), r.RunCPU.Seconds(), tcpu,
			float64(r.Wakeups)/r.Idle.Seconds(), r.Threads,
			mb(r.RSS), mb(r.RSSAnon), mb(r.RSSFile), mb(r.PSS), trss)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "idle RSS by mapping, MiB\tphones\ttext\trodata\tdata+bss\tanon\tlibs\toutbox.db\tother\t")
	part := func(name string, phones int, p RSSParts) {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", name, phones,
			mb(p.Text), mb(p.ROData), mb(p.Data), mb(p.Anon), mb(p.Libs), mb(p.Outbox), mb(p.Other))
	}
	for _, r := range rows {
		part("resident", r.Phones, r.Parts)
		if r.Touched != nil {
			part("touched while idle", r.Phones, *r.Touched)
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "CPU-s stat is utime+stime from /proc/PID/stat (10 ms ticks); CPU-s run is the threads' run time")
	fmt.Fprintln(w, "from schedstat, which the target is checked against. Pss shares the binary's pages with the")
	fmt.Fprintln(w, "other processes mapping it. \"Touched\" is smaps' Referenced after clear_refs at the window's start.")
	static, separate := true, true
	for _, r := range rows {
		static = static && r.Static
		separate = separate && !r.SharedWithBench
	}
	if !static {
		fmt.Fprintln(w, "The binary is dynamically linked (cgo): build it with CGO_ENABLED=0, as shipped, for comparable figures.")
	}
	if !separate {
		fmt.Fprintln(w, "The agent runs this bench's own executable, whose pages the bench shares: Pss and touched are")
		fmt.Fprintln(w, "not the agent's alone. Measure a separate build with --footprint-binary.")
	}
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "OVER"
}
