package agent_test

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/lab"
)

// startLab builds a lab for one test with fast driver timers, and checks on
// cleanup that the receiver never had to reject a request.
func startLab(t *testing.T, opts lab.Options) *lab.Lab {
	t.Helper()
	opts.Dir = t.TempDir()
	if opts.Agent.Modem == nil {
		opts.Agent.Modem = lab.FastModem
	}
	if opts.Agent.StopTimeout == 0 {
		opts.Agent.StopTimeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := lab.Start(ctx, opts)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("closing the lab: %v", err)
		}
		for _, v := range l.Rejected() {
			t.Errorf("the receiver rejected a request: %s", v.String())
		}
	})
	return l
}

// testContext is bounded so a stuck pipeline fails instead of hanging.
func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// loadTexts reads testdata/messages.txt.
func loadTexts(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("testdata/messages.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var texts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		texts = append(texts, strings.ReplaceAll(line, `\n`, "\n"))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return texts
}

// mustAgent returns the lab's running agent.
func mustAgent(t *testing.T, l *lab.Lab) *agent.Agent {
	t.Helper()
	a := l.Agent()
	if a == nil {
		t.Fatal("the agent is not running")
	}
	return a
}
