package outbox

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestClockGuardSources: the guard's answer for each combination of the
// systemd-timesyncd flag file and what adjtimex says, including the EPERM
// the unit's sandbox gives it (which the first guard took as synchronised).
func TestClockGuardSources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	present := filepath.Join(dir, "synchronized")
	if err := os.WriteFile(present, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	absent := filepath.Join(dir, "missing")
	unreadable := filepath.Join(present, "below-a-file") // ENOTDIR
	kernel := func(state int, status int32, err error) func(*unix.Timex) (int, error) {
		return func(tx *unix.Timex) (int, error) {
			tx.Status = status
			return state, err
		}
	}
	tests := []struct {
		name          string
		flag          string
		adj           func(*unix.Timex) (int, error)
		known, synced bool
		source        string
	}{
		{"timesyncd synchronised, sandboxed", present, kernel(0, 0, unix.EPERM), true, true, "timesyncd"},
		{"timesyncd synchronised, kernel readable", present, kernel(unix.TIME_ERROR, unix.STA_UNSYNC, nil), true, true, "timesyncd"},
		{"no flag, kernel synchronised", absent, kernel(unix.TIME_OK, 0, nil), true, true, "kernel"},
		{"no flag, kernel STA_UNSYNC", absent, kernel(unix.TIME_OK, unix.STA_UNSYNC, nil), true, false, "kernel"},
		{"no flag, kernel TIME_ERROR", absent, kernel(unix.TIME_ERROR, 0, nil), true, false, "kernel"},
		{"no flag, sandboxed: unknown", absent, kernel(0, 0, unix.EPERM), false, false, ""},
		{"flag unreadable, sandboxed: unknown", unreadable, kernel(0, 0, unix.EPERM), false, false, ""},
		{"no flag, other error: unknown", absent, kernel(0, 0, errors.New("boom")), false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := ClockGuard{TimesyncdFlag: tt.flag, Adjtimex: tt.adj}.State()
			if st.Known != tt.known || (st.Known && st.Synced != tt.synced) {
				t.Fatalf("state %+v, want known=%v synced=%v", st, tt.known, tt.synced)
			}
			if tt.source != "" && st.Source != tt.source {
				t.Errorf("source %q, want %q", st.Source, tt.source)
			}
			if !st.Known && st.Source == "" {
				t.Error("an unknown state must say why")
			}
		})
	}
}

// guardChildEnv names the flag file a child of TestClockGuardUnderUnitSandbox
// checks; guardOutEnv the file it writes its answer to.
const (
	guardChildEnv = "SIMHOOK_TEST_GUARD_FLAG"
	guardOutEnv   = "SIMHOOK_TEST_GUARD_OUT"
)

// guardReport is what a child found.
type guardReport struct {
	State       ClockState `json:"state"`
	AdjtimexErr string     `json:"adjtimex_err"`
	// Sent is how many of three held events reached a receiver within a
	// second and a half; Delivered whether all three did once allowed.
	Sent int `json:"sent"`
}

// TestClockGuardChild is the child's side: it runs only when its parent
// sets guardChildEnv. It asks the real guard (real adjtimex, the flag file
// the parent chose) and runs an outbox that requires time sync against a
// receiver, counting what it sends.
func TestClockGuardChild(t *testing.T) {
	flag := os.Getenv(guardChildEnv)
	if flag == "" {
		t.Skip("the child of TestClockGuardUnderUnitSandbox")
	}
	var rep guardReport
	var tx unix.Timex
	if _, err := unix.Adjtimex(&tx); err != nil {
		rep.AdjtimexErr = err.Error()
	}
	guard := ClockGuard{TimesyncdFlag: flag}
	rep.State = guard.State()
	r := newReceiver(t, nil)
	o := open(t, Options{RequireTimeSync: true, ClockState: guard.State})
	if err := o.SetEndpoints([]Endpoint{r.endpoint("e")}); err != nil {
		t.Fatal(err)
	}
	run(t, o)
	enqueueN(t, o, 0, 3)
	if rep.State.Known && rep.State.Synced {
		waitFor(t, 10*time.Second, "three events", func() bool { return r.delivered() == 3 })
	} else {
		time.Sleep(1500 * time.Millisecond) // a hold can only be seen by waiting
	}
	rep.Sent = r.delivered()
	b, _ := json.Marshal(rep)
	if err := os.WriteFile(os.Getenv(guardOutEnv), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestClockGuardUnderUnitSandbox runs the guard as a plain process and
// under the seccomp restriction the systemd unit imposes (adjtimex and
// clock_adjtime denied with EPERM, through internal/sandbox/noclock), with
// the timesyncd flag file present and absent, on this machine's real kernel
// clock. Inside the sandbox with no flag the guard cannot tell, so it must
// hold: the first guard read EPERM as "synchronised" and sent everything.
func TestClockGuardUnderUnitSandbox(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a helper and runs children")
	}
	dir := t.TempDir()
	noclock := filepath.Join(dir, "noclock")
	build := exec.Command("go", "build", "-o", noclock, "github.com/simhook/simhook/internal/sandbox/noclock")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building noclock: %v\n%s", err, out)
	}
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		t.Skipf("adjtimex is not readable here (%v): the plain-process cases need it", err)
	}
	kernelSynced := state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0
	t.Logf("this machine's kernel clock: synchronised=%v", kernelSynced)
	flag := filepath.Join(dir, "synchronized")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "not-synchronized")
	tests := []struct {
		name          string
		sandboxed     bool
		flag          string
		known, synced bool
	}{
		{"plain process, no timesyncd", false, missing, true, kernelSynced},
		{"plain process, timesyncd synchronised", false, flag, true, true},
		{"unit sandbox, no timesyncd", true, missing, false, false},
		{"unit sandbox, timesyncd synchronised", true, flag, true, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(dir, "report-"+string(rune('a'+i)))
			args := []string{os.Args[0], "-test.run=^TestClockGuardChild$", "-test.count=1"}
			if tt.sandboxed {
				args = append([]string{noclock}, args...)
			}
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = append(os.Environ(), guardChildEnv+"="+tt.flag, guardOutEnv+"="+out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("child: %v\n%s", err, b)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("the child wrote no report: %v", err)
			}
			var rep guardReport
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			t.Logf("adjtimex error %q, guard %s, sent %d of 3", rep.AdjtimexErr, rep.State, rep.Sent)
			if tt.sandboxed != (rep.AdjtimexErr != "") {
				t.Fatalf("adjtimex error %q in a sandboxed=%v child", rep.AdjtimexErr, tt.sandboxed)
			}
			if rep.State.Known != tt.known || (tt.known && rep.State.Synced != tt.synced) {
				t.Fatalf("guard %+v, want known=%v synced=%v", rep.State, tt.known, tt.synced)
			}
			want := 0
			if tt.known && tt.synced {
				want = 3
			}
			if rep.Sent != want {
				t.Errorf("sent %d of 3 held events, want %d", rep.Sent, want)
			}
		})
	}
}
