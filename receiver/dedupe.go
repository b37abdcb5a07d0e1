package receiver

import "sync"

// idSet remembers the last max ids added, forgetting the oldest first.
type idSet struct {
	mu    sync.Mutex
	max   int
	ids   map[string]struct{}
	order []string // ring of the ids in ids, oldest at next
	next  int
}

func newIDSet(max int) *idSet {
	return &idSet{max: max, ids: make(map[string]struct{})}
}

// add records id and reports whether it was new.
func (s *idSet) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return false
	}
	if len(s.order) < s.max {
		s.order = append(s.order, id)
	} else {
		delete(s.ids, s.order[s.next])
		s.order[s.next] = id
		s.next = (s.next + 1) % s.max
	}
	s.ids[id] = struct{}{}
	return true
}
