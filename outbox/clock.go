package outbox

import "github.com/simhook/simhook/internal/clock"

// Clock is the dispatcher's source of time. Tests inject one to simulate an
// hour-long outage in milliseconds.
type Clock = clock.Clock

// Timer is a Clock's timer.
type Timer = clock.Timer

// RealClock is the system clock.
type RealClock = clock.Real
