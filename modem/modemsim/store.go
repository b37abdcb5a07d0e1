package modemsim

import (
	"encoding/hex"
	"sort"
	"strings"
)

// Message status in storage (3GPP TS 27.005 <stat> in PDU mode).
const (
	statUnread = 0
	statRead   = 1
	statUnsent = 2
	statSent   = 3
)

// entry is one stored message or status report.
type entry struct {
	pdu  []byte // SMSC address + TPDU
	tpdu int    // TPDU length in octets
	stat int
}

// store is one message storage (SIM or phone memory).
type store struct {
	cap   int
	full  bool // forced full by SetStorageFull
	slots map[int]*entry
}

func newStore(n int) *store { return &store{cap: n, slots: make(map[int]*entry)} }

// used is how many slots are taken, as +CPMS reports it.
func (s *store) used() int {
	if s.full {
		return s.cap
	}
	return len(s.slots)
}

// put stores e in the lowest free slot (1-based) and returns it, or -1.
func (s *store) put(e *entry) int {
	if s.full || len(s.slots) >= s.cap {
		return -1
	}
	for i := 1; ; i++ {
		if _, taken := s.slots[i]; !taken {
			s.slots[i] = e
			return i
		}
	}
}

// indexes returns the used slots in order.
func (s *store) indexes() []int {
	out := make([]int, 0, len(s.slots))
	for i := range s.slots {
		out = append(out, i)
	}
	sort.Ints(out)
	return out
}

// Stored returns what a storage holds: index → PDU hex as +CMGR shows it.
func (m *Modem) Stored(storage string) map[int]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stores[storage]
	out := make(map[int]string)
	if s == nil {
		return out
	}
	for i, e := range s.slots {
		out[i] = strings.ToUpper(hex.EncodeToString(e.pdu))
	}
	return out
}

// SetStorageFull makes a storage report itself full (+CPMS used == total)
// and refuse new messages, or lifts that.
func (m *Modem) SetStorageFull(storage string, full bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.stores[storage]; s != nil {
		s.full = full
	}
}
