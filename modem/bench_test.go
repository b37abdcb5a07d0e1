package modem

import (
	"context"
	"testing"
	"time"

	"github.com/simhook/simhook/modem/modemsim"
)

// chanHandler signals each message handled.
type chanHandler struct {
	recorder
	got chan struct{}
}

func (c *chanHandler) HandleSMS(ctx context.Context, m *Message) error {
	c.got <- struct{}{}
	return nil
}

// BenchmarkReceiveConfirm measures one receive-and-confirm cycle on the
// simulator: +CMTI, +CMGR, the handler, +CMGD.
func BenchmarkReceiveConfirm(b *testing.B) {
	m := modemsim.Start(b, modemsim.Options{})
	h := &chanHandler{got: make(chan struct{}, 1)}
	p := NewPhone(Config{ID: 1, Port: m.Path(), ProbeInterval: time.Hour, SweepInterval: time.Hour}, h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for p.State().Status != "up" {
		time.Sleep(5 * time.Millisecond)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: "bench"}); err != nil {
			b.Fatal(err)
		}
		<-h.got
	}
	b.StopTimer()
	for len(m.Stored("SM")) > 0 {
		time.Sleep(time.Millisecond)
	}
}
