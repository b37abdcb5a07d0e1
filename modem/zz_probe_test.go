package modem

import (
	"context"
	"testing"
	"time"

	"github.com/simhook/simhook/modem/modemsim"
)

func TestZZAskIdentity(t *testing.T) {
	for i := 0; i < 300; i++ {
		m := modemsim.Start(t, modemsim.Options{IMEI: "350000000000002"})
		p := NewPhone(Config{ID: 1, Clock: quietClock(t)}, &recorder{})
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		got, err := p.askIdentity(ctx, m.Path())
		cancel()
		if err != nil || got == "" {
			t.Fatalf("run %d: %q %v", i, got, err)
		}
		m.Close()
	}
}
