package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/webhook"
)

// Footprint is what the daemon alone costs, measured on a `simhook run`
// process from /proc.
type Footprint struct {
	Phones         int           `json:"phones"`
	Idle           time.Duration `json:"idle_ns"`
	IdleRSS        int64         `json:"idle_rss_bytes"`
	IdleCPUPerMin  time.Duration `json:"idle_cpu_per_min_ns"`
	DrainMessages  int           `json:"drain_messages"`
	DrainPeakRSS   int64         `json:"drain_peak_rss_bytes"`
	DrainDuration  time.Duration `json:"drain_ns"`
	StartupRSS     int64         `json:"startup_rss_bytes"`
	ProcessVersion string        `json:"binary"`
}

// MeasureFootprint runs binary as the agent with phones simulated modems,
// leaves it idle for idle, then queues drain SMS while the receiver is
// down and measures the peak RSS while the backlog drains.
func MeasureFootprint(ctx context.Context, binary string, phones int, idle time.Duration, drain int) (Footprint, error) {
	f := Footprint{Phones: phones, Idle: idle, ProcessVersion: binary}
	perPhone := (drain + phones - 1) / phones
	l, err := lab.Start(ctx, lab.Options{Phones: phones, Capacity: perPhone + 10, Stopped: true})
	if err != nil {
		return f, err
	}
	defer l.Close()
	p, err := l.StartProcess(ctx, binary)
	if err != nil {
		return f, err
	}
	defer p.Stop(10 * time.Second)

	time.Sleep(2 * time.Second) // let the phones finish their init and sweep
	before, err := p.Usage()
	if err != nil {
		return f, err
	}
	f.StartupRSS = before.RSS
	select {
	case <-time.After(idle):
	case <-ctx.Done():
		return f, ctx.Err()
	}
	after, err := p.Usage()
	if err != nil {
		return f, err
	}
	f.IdleRSS = after.RSS
	f.IdleCPUPerMin = time.Duration(float64(after.CPU-before.CPU) * float64(time.Minute) / float64(idle))

	l.ReceiverDown()
	for i := range drain {
		m := l.Modems[i%phones]
		if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: fmt.Sprintf("drain %d", i)}); err != nil {
			return f, fmt.Errorf("inject %d: %w", i, err)
		}
	}
	// Wait until the agent has committed everything (the SIMs are empty).
	for _, m := range l.Modems {
		for len(m.Stored("SM")) > 0 {
			select {
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
				return f, ctx.Err()
			}
		}
	}
	start := time.Now()
	l.ReceiverUp()
	if err := l.WaitEvents(ctx, webhook.ReceiveSMS, drain); err != nil {
		return f, err
	}
	f.DrainDuration = time.Since(start)
	f.DrainMessages = drain
	peak, err := p.Usage()
	if err != nil {
		return f, err
	}
	f.DrainPeakRSS = peak.HWM
	return f, nil
}
