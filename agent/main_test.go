package agent_test

import (
	"flag"
	"os"
	"testing"
)

// TestMain runs the end-to-end tests, which mostly wait on pseudo-terminals
// and local HTTP, eight at a time unless -parallel is given: the default
// (GOMAXPROCS, 2 on the CI machine) would leave them queueing behind each
// other's sleeps.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "8")
	}
	os.Exit(m.Run())
}
