package sandbox

import (
	"errors"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDenyClock runs this test binary again with the filter installed and
// checks, in the child, that adjtimex fails with EPERM and that the
// process otherwise works (it can read the time and a file).
func TestDenyClock(t *testing.T) {
	if os.Getenv("SANDBOX_CHILD") == "1" {
		var before unix.Timex
		if _, err := unix.Adjtimex(&before); err != nil {
			t.Fatalf("adjtimex fails before the filter: %v", err)
		}
		if err := DenyClock(); err != nil {
			t.Fatal(err)
		}
		var tx unix.Timex
		if _, err := unix.Adjtimex(&tx); !errors.Is(err, unix.EPERM) {
			t.Fatalf("adjtimex under the filter: %v, want EPERM", err)
		}
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
			t.Fatalf("clock_gettime under the filter: %v", err)
		}
		if _, err := os.ReadFile("/proc/self/status"); err != nil {
			t.Fatal(err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDenyClock$", "-test.v")
	cmd.Env = append(os.Environ(), "SANDBOX_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
