package outbox

import (
	"time"

	"github.com/simhook/simhook/internal/clock"
)

// newFakeClock is internal/clock's Fake, set to start.
func newFakeClock(start time.Time) *clock.Fake { return clock.NewFake(start) }
