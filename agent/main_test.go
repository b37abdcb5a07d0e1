package agent_test

import (
	"os"
	"testing"

	"github.com/simhook/simhook/internal/testpar"
)

// TestMain runs the end-to-end tests, which mostly wait on pseudo-terminals
// and local HTTP, eight at a time unless -parallel is given: the default
// (GOMAXPROCS, 2 on the CI machine) would leave them queueing behind each
// other's sleeps.
func TestMain(m *testing.M) {
	testpar.Raise(8)
	os.Exit(m.Run())
}
