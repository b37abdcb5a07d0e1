package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/webhook"
)

// watchLab connects the lab's configuration file to its agent the way
// `simhook run` does.
func watchLab(t *testing.T, l *lab.Lab) {
	t.Helper()
	a := mustAgent(t, l)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := config.Watch(ctx, l.ConfigPath, config.WatchOptions{
		Debounce: 50 * time.Millisecond,
		OnChange: func(c *config.Config) { _ = a.Apply(c) },
		OnError:  a.ConfigError,
		Current:  a.Config(),
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		w.Close()
	})
}

// waitUntil polls cond for up to d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLiveReloadEndToEnd edits the configuration file under a running
// agent: broken versions are refused and counted while traffic goes on, a
// phone removed stops only its own worker, and one added starts.
func TestLiveReloadEndToEnd(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{Phones: 2})
	watchLab(t, l)
	a := mustAgent(t, l)
	ctx := testContext(t, 60*time.Second)
	good := l.ConfigYAML()

	broken := []struct{ name, text string }{
		{"unknown key", good + "colour: blue\n"},
		{"wrong type", strings.Replace(good, "concurrency: 4", "concurrency: many", 1)},
		{"missing secret file", strings.Replace(good, fmt.Sprintf("secret: %q", l.Secret), "secret_file: /nonexistent/secret", 1)},
	}
	for i, b := range broken {
		if err := l.WriteConfig(b.text); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 10*time.Second, b.name+" to be reported", func() bool { return a.Counter("config_errors") >= uint64(i+1) })
		// Traffic goes on under the old configuration.
		if _, err := l.Modems[i%2].InjectSMS(modemsim.SMS{From: "+33612345678", Text: "during " + b.name}); err != nil {
			t.Fatal(err)
		}
		if err := l.WaitEvents(ctx, webhook.ReceiveSMS, i+1); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.Counter("config_reloads"); n != 0 {
		t.Fatalf("%d reloads applied from broken files", n)
	}

	// Remove phone 2: phone 1 keeps running untouched.
	reconnectsBefore := a.Phones()[0].Reconnects
	onePhone := removePhone(good, 2)
	if err := l.WriteConfig(onePhone); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "phone 2 to stop", func() bool { return len(a.Phones()) == 1 })
	if p := a.Phones()[0]; p.ID != 1 || p.Status != "up" || p.Reconnects != reconnectsBefore {
		t.Errorf("phone 1 after removing phone 2: %+v", p)
	}
	// Add it back.
	if err := l.WriteConfig(good); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "phone 2 to come back up", func() bool {
		ps := a.Phones()
		return len(ps) == 2 && ps[1].Status == "up"
	})
	if _, err := l.Modems[1].InjectSMS(modemsim.SMS{From: "+33612345678", Text: "phone 2 is back"}); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitEvents(ctx, webhook.ReceiveSMS, len(broken)+1); err != nil {
		t.Fatal(err)
	}
	if n := a.Counter("config_reloads"); n != 2 {
		t.Errorf("config_reloads = %d, want 2", n)
	}
}

// removePhone drops phone id's entry from a lab configuration.
func removePhone(yaml string, id int) string {
	lines := strings.Split(yaml, "\n")
	var out []string
	skipping := false
	for _, line := range lines {
		if strings.HasPrefix(line, "  - id: ") {
			skipping = line == fmt.Sprintf("  - id: %d", id)
		} else if !strings.HasPrefix(line, "    ") {
			skipping = false
		}
		if !skipping {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestReloadEndpointURLAndSecret rotates the endpoint's secret and moves
// its URL in the file while SMS keep arriving: every event must arrive,
// signed with the secret in force when it was sent, at the URL in force.
func TestReloadEndpointURLAndSecret(t *testing.T) {
	t.Parallel()
	const newSecret = "the-new-secret-after-rotation"
	l := startLab(t, lab.Options{ReceiverSecrets: []string{"", newSecret}})
	// The receiver knows the old secret (index 0) and the new one (index 1).
	watchLab(t, l)
	a := mustAgent(t, l)
	ctx := testContext(t, 60*time.Second)
	old := l.ConfigYAML()
	inject := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := l.Modems[0].InjectSMS(modemsim.SMS{From: "+33612345678", Text: fmt.Sprintf("rotation %d", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	inject(0, 10)
	if err := l.WaitEvents(ctx, webhook.ReceiveSMS, 10); err != nil {
		t.Fatal(err)
	}
	rotated := strings.Replace(old, fmt.Sprintf("secret: %q", l.Secret), fmt.Sprintf("secret: %q", newSecret), 1)
	rotated = strings.Replace(rotated, "/hook\n", "/hook-v2\n", 1)
	if rotated == old {
		t.Fatal("the configuration did not change")
	}
	inject(10, 15) // traffic while the new file lands
	if err := l.WriteConfig(rotated); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the reload", func() bool { return a.Counter("config_reloads") == 1 })
	inject(15, 30)
	if err := l.WaitEvents(ctx, webhook.ReceiveSMS, 30); err != nil {
		t.Fatal(err)
	}
	bySecret := map[int]int{}
	for _, v := range l.Receiver.Verdicts() {
		bySecret[v.Standard.Secret]++
		if v.Legacy.Secret != v.Standard.Secret {
			t.Errorf("legacy signed with secret %d, standard with %d", v.Legacy.Secret, v.Standard.Secret)
		}
	}
	paths := l.Paths()
	if bySecret[0] < 10 || bySecret[1] < 15 || bySecret[0]+bySecret[1] != 30 {
		t.Errorf("signed by secret index: %v; want the first 10 or more with the old, the last 15 or more with the new", bySecret)
	}
	if paths["/hook"] != bySecret[0] || paths["/hook-v2"] != bySecret[1] {
		t.Errorf("requests by path %v do not match the secrets in force %v", paths, bySecret)
	}
}
