package fleet

import (
	"os"
	"testing"

	"github.com/simhook/simhook/internal/testpar"
)

// TestMain runs the tests eight at a time unless -parallel is given: each
// runs its own nats-server and mostly waits on it and on simulated modems.
func TestMain(m *testing.M) {
	testpar.Raise(8)
	os.Exit(m.Run())
}
