package modem

import (
	"slices"
	"testing"
	"time"

	"github.com/simhook/simhook/modem/modemsim"
)

// TestClosedPortWritesNowhere: a write to a closed port fails and reaches
// no other port. go.bug.st/serial closes the descriptor and keeps using its
// number: a write after Close (the engine's ESC when its context ends as the
// session closes the port) went to whatever the kernel gave that number to
// next, here another modem's port; a read waiting as the port closed once
// returned the answer meant for another phone, which then waited for it
// forever.
func TestClosedPortWritesNowhere(t *testing.T) {
	a := modemsim.Start(t, modemsim.Options{})
	b := modemsim.Start(t, modemsim.Options{})
	pa, err := openSerial(a.Path(), 115200)
	if err != nil {
		t.Fatal(err)
	}
	if err := pa.Close(); err != nil {
		t.Fatal(err)
	}
	pb, err := openSerial(b.Path(), 115200) // takes the lowest free descriptor
	if err != nil {
		t.Fatal(err)
	}
	defer pb.Close()
	if _, err := pa.Write([]byte("AT+CGMI\r")); err == nil {
		t.Error("a write to a closed port succeeded")
	}
	if _, err := pb.Write([]byte("AT+CGMM\r")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "port b's own command", func() bool { return slices.Contains(b.Commands(), "+CGMM") })
	if got := b.Commands(); slices.Contains(got, "+CGMI") {
		t.Errorf("modem b got the write to the closed port a: %q", got)
	}
}
