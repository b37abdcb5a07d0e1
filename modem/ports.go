package modem

import (
	"path/filepath"
	"sync"
)

// openPorts holds the serial ports that phones of this process have open,
// by resolved path, so that one phone looking for its modem never writes to
// a port another phone is using (an identity probe typed into another
// phone's +CMGS prompt would become part of its message).
var openPorts = struct {
	sync.Mutex
	m map[string]bool
}{m: make(map[string]bool)}

// resolvePort returns the device a port path leads to, so that a
// /dev/serial/by-id link and its /dev/ttyUSBn are the same port.
func resolvePort(name string) string {
	if r, err := filepath.EvalSymlinks(name); err == nil {
		return r
	}
	return name
}

// claimPort marks a port as open by this process. It reports false, and
// claims nothing, when another phone has it; otherwise release ends the claim.
func claimPort(name string) (release func(), ok bool) {
	key := resolvePort(name)
	openPorts.Lock()
	defer openPorts.Unlock()
	if openPorts.m[key] {
		return nil, false
	}
	openPorts.m[key] = true
	return func() {
		openPorts.Lock()
		delete(openPorts.m, key)
		openPorts.Unlock()
	}, true
}
