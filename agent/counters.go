package agent

import (
	"sort"
	"sync"
)

// counters are the agent's own cumulative counts, exported as metrics.
type counters struct {
	mu sync.Mutex
	m  map[string]uint64
}

func newCounters() *counters { return &counters{m: make(map[string]uint64)} }

// add increases the named counter.
func (c *counters) add(name string, n uint64) {
	c.mu.Lock()
	c.m[name] += n
	c.mu.Unlock()
}

// get returns the named counter.
func (c *counters) get(name string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name]
}

// snapshot returns every counter, sorted by name.
func (c *counters) snapshot() []namedCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]namedCount, 0, len(c.m))
	for k, v := range c.m {
		out = append(out, namedCount{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// namedCount is one counter in a snapshot.
type namedCount struct {
	name  string
	value uint64
}

// Counter returns one of the agent's counters (for tests and the demo).
func (a *Agent) Counter(name string) uint64 { return a.counter.get(name) }
