package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/receiver"
	"github.com/simhook/simhook/webhook"
)

// clock pairs each injected SMS's +CMTI with its verified webhook. An SMS is
// identified by its text; the URC names only a storage index, so the index
// is bound to the text when the injection returns. An index is reused only
// after the agent read and deleted the message, which is after its URC, so
// a URC always belongs to the newest text bound to its index.
type clock struct {
	mu        sync.Mutex
	textOf    map[int]string       // index → newest text stored there
	urcAt     map[string]time.Time // text → when its +CMTI was written
	unclaimed map[int]time.Time    // +CMTI seen before its injection returned
	latencies []time.Duration
	missing   int
}

func newClock() *clock {
	return &clock{textOf: map[int]string{}, urcAt: map[string]time.Time{}, unclaimed: map[int]time.Time{}}
}

// onURC is the modem's OnURC hook.
func (c *clock) onURC(_ int, line string, at time.Time) {
	idx, ok := cmtiIndex(line)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if text, bound := c.textOf[idx]; bound {
		if _, done := c.urcAt[text]; !done {
			c.urcAt[text] = at
			return
		}
	}
	c.unclaimed[idx] = at
}

// injected binds the indexes an injection returned to its text.
func (c *clock) injected(text string, indexes []int, started time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, idx := range indexes {
		c.textOf[idx] = text
		if at, ok := c.unclaimed[idx]; ok && !at.Before(started) {
			c.urcAt[text] = at
			delete(c.unclaimed, idx)
		}
	}
}

// onEvent is the receiver's OnEvent hook.
func (c *clock) onEvent(v receiver.Verdict) {
	if v.Outcome != receiver.Accepted || v.Event == nil || v.Event.Type != webhook.ReceiveSMS {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.urcAt[v.Event.ReceiveSMS.Text]
	if !ok {
		c.missing++
		return
	}
	c.latencies = append(c.latencies, v.At.Sub(at))
}

// cmtiIndex extracts the index of a `+CMTI: "SM",7` line.
func cmtiIndex(line string) (int, bool) {
	rest, ok := strings.CutPrefix(line, "+CMTI:")
	if !ok {
		return 0, false
	}
	_, num, ok := strings.Cut(rest, ",")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	return n, err == nil
}

// Latency injects count single-part SMS, burst at a time, and measures from
// each +CMTI to the receiver holding its verified webhook.
func Latency(ctx context.Context, count, burst int, delay time.Duration) (Latencies, error) {
	if burst < 1 {
		burst = 1
	}
	c := newClock()
	l, err := lab.Start(ctx, lab.Options{
		Capacity:   max(2*burst, 30),
		ReplyDelay: delay,
		OnURC:      c.onURC,
		OnEvent:    c.onEvent,
	})
	if err != nil {
		return Latencies{}, err
	}
	defer l.Close()
	m := l.Modems[0]
	for sent := 0; sent < count; {
		n := min(burst, count-sent)
		for range n {
			text := fmt.Sprintf("bench %d", sent)
			started := time.Now()
			idx, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: text})
			if err != nil {
				return Latencies{}, fmt.Errorf("inject %d: %w", sent, err)
			}
			c.injected(text, idx, started)
			sent++
		}
		if err := l.WaitEvents(ctx, webhook.ReceiveSMS, sent); err != nil {
			return Latencies{}, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.missing > 0 {
		return Latencies{}, fmt.Errorf("%d webhooks could not be paired with a +CMTI", c.missing)
	}
	return summarise(c.latencies), nil
}

// StartupDrain stores count SMS on the modem before the agent starts, and
// measures from the agent's start to the last verified webhook.
func StartupDrain(ctx context.Context, count int, delay time.Duration) (time.Duration, error) {
	l, err := lab.Start(ctx, lab.Options{Capacity: count + 10, ReplyDelay: delay, Stopped: true})
	if err != nil {
		return 0, err
	}
	defer l.Close()
	for i := range count {
		if _, err := l.Modems[0].InjectSMS(modemsim.SMS{From: "+33612345678", Text: fmt.Sprintf("stored %d", i)}); err != nil {
			return 0, fmt.Errorf("inject %d: %w", i, err)
		}
	}
	start := time.Now()
	if err := l.StartAgent(ctx); err != nil {
		return 0, err
	}
	if err := l.WaitEvents(ctx, webhook.ReceiveSMS, count); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
