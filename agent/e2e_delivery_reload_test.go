package agent_test

import (
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/webhook"
)

// TestDeliveryKeysApplyOnReload edits each delivery key in the file under a
// running agent whose clock guard cannot tell whether the clock is
// synchronised (as inside the unit's sandbox without timesyncd): turning
// require_time_sync on holds the next SMS; turning it off releases it with
// no restart (before, the change was logged "configuration applied" and
// nothing moved); concurrency, retention and probe_max take their new
// values.
func TestDeliveryKeysApplyOnReload(t *testing.T) {
	t.Parallel()
	unknown := func() outbox.ClockState { return outbox.ClockState{Source: "test: cannot tell"} }
	l := startLab(t, lab.Options{Agent: agent.Options{ClockState: unknown}})
	watchLab(t, l)
	a := mustAgent(t, l)
	ctx := testContext(t, 60*time.Second)
	out := a.Outbox()
	good := l.ConfigYAML()
	edit := func(from, to string) string {
		t.Helper()
		if !strings.Contains(good, from) {
			t.Fatalf("the lab's configuration has no %q", from)
		}
		return strings.Replace(good, from, to, 1)
	}
	reloads := a.Counter("config_reloads")
	apply := func(text string) {
		t.Helper()
		if err := l.WriteConfig(text); err != nil {
			t.Fatal(err)
		}
		reloads++
		waitUntil(t, 10*time.Second, "the reload", func() bool { return a.Counter("config_reloads") >= reloads })
	}

	apply(edit("require_time_sync: false", "require_time_sync: true"))
	if !out.Delivery().RequireTimeSync {
		t.Fatal("require_time_sync: true not in force after the reload")
	}
	if _, err := l.Modems[0].InjectSMS(modemsim.SMS{From: "+33612345678", Text: "held by the clock"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the SMS to be held", func() bool {
		st, err := out.Stats()
		return err == nil && st.TimeSyncHold && st.Events >= 1
	})
	if n := l.Count(webhook.ReceiveSMS); n != 0 {
		t.Fatalf("%d SMS delivered while the clock guard held", n)
	}
	if st, _ := out.Stats(); st.Clock.Known {
		t.Fatalf("clock state %+v, want unknown", st.Clock)
	}

	apply(good) // require_time_sync: false again
	if err := l.WaitEvents(ctx, webhook.ReceiveSMS, 1); err != nil {
		t.Fatalf("the held SMS was not released by the reload: %v", err)
	}

	apply(edit("concurrency: 4", "concurrency: 1"))
	if c := out.Delivery().Concurrency; c != 1 {
		t.Errorf("concurrency %d after the reload, want 1", c)
	}
	apply(edit("retention: 168h", "retention: 2h"))
	if r := out.Delivery().Retention; r != 2*time.Hour {
		t.Errorf("retention %s after the reload, want 2h", r)
	}
	if p := out.Delivery().ProbeMax; p != 30*time.Second {
		t.Errorf("probe_max %s by default, want 30s", p)
	}
	apply(edit("retention: 168h", "retention: 168h\n  probe_max: 5s"))
	if p := out.Delivery().ProbeMax; p != 5*time.Second {
		t.Errorf("probe_max %s after the reload, want 5s", p)
	}
}
