package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/internal/natsserver"
)

// TestMeasureFleetSmall runs the fleet figures at a small size against a
// real nats-server: every request is sent exactly once (MeasureFleet fails
// otherwise) and both drains finish.
func TestMeasureFleetSmall(t *testing.T) {
	if natsserver.Binary() == "" {
		if os.Getenv("SIMHOOK_REQUIRE_NATS") != "" {
			t.Fatal(errNoNATS)
		}
		t.Skip(errNoNATS)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := FleetOptions{Requests: 30, Interval: 5 * time.Millisecond, Events: 500}
	f, err := MeasureFleet(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if f.Handover.N != o.Requests || f.EventsRate <= 0 || f.WebhookRate <= 0 {
		t.Errorf("figures %+v", f)
	}
	var b strings.Builder
	WriteFleetTable(&b, o, f)
	if !strings.Contains(b.String(), "ratio stream / webhook") {
		t.Errorf("table:\n%s", b.String())
	}
}
