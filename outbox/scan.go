package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
)

// The parts of bbolt's file format the scanner relies on (little-endian,
// as written on every platform simhook runs on).
const (
	pageHeaderSize  = 16
	leafElementSize = 16
	leafPageFlag    = 0x02
	bucketLeafFlag  = 0x01
	boltMagic       = 0xED0CDAED
	inlineBucketHdr = 16 // root page id and sequence, before an inline page
)

// Scan is what ScanFile read from a file whose tree may be broken.
type Scan struct {
	// Pages is how many pages the file has; LeafPages how many of them read
	// as leaves; Unreadable how many records looked like the outbox's but
	// did not decode.
	Pages, LeafPages, Unreadable int
	// Events are the event records found, by sequence number; Deliveries
	// their deliveries found, by sequence number and endpoint (the most
	// advanced version where the file holds several).
	Events     map[uint64]eventRecord
	Deliveries map[uint64]map[string]deliveryRecord
	// MaxIDs is the highest event id seen per type.
	MaxIDs map[string]uint64
}

// ScanFile reads every page of a bbolt file as raw bytes, without trusting
// its meta pages, freelist or tree, and collects the outbox's event and
// delivery records from every leaf it finds, including leaves of old
// versions that the tree no longer reaches. It reads the file with plain
// reads (no memory map), bounds every offset, and recovers from its own
// mistakes, so a damaged file can only make it find less.
func ScanFile(path string) (s *Scan, err error) {
	s = &Scan{Events: map[uint64]eventRecord{}, Deliveries: map[uint64]map[string]deliveryRecord{}, MaxIDs: map[string]uint64{}}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("outbox: scanning %s stopped: %v", path, r)
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return s, fmt.Errorf("outbox: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return s, fmt.Errorf("outbox: %w", err)
	}
	size := fi.Size()
	psz := guessPageSize(f)
	s.Pages = int((size + int64(psz) - 1) / int64(psz))
	buf := make([]byte, psz)
	for i := int64(0); i < int64(s.Pages); {
		n, _ := f.ReadAt(buf, i*int64(psz))
		page := buf[:n]
		step := int64(1)
		if len(page) >= pageHeaderSize && binary.LittleEndian.Uint16(page[8:]) == leafPageFlag {
			overflow := int64(binary.LittleEndian.Uint32(page[12:]))
			if overflow > 0 && (i+1+overflow)*int64(psz) <= size+int64(psz) && overflow < 1<<16 {
				big := make([]byte, (overflow+1)*int64(psz))
				m, _ := f.ReadAt(big, i*int64(psz))
				page = big[:m]
			}
			if s.leaf(page, 0) {
				s.LeafPages++
				step = 1 + overflow
			}
		}
		i += step
	}
	return s, nil
}

// guessPageSize reads the page size from the first meta page that has the
// magic number, else takes 4096.
func guessPageSize(f io.ReaderAt) int {
	for _, off := range []int64{0, 4096, 16384, 65536} {
		hdr := make([]byte, pageHeaderSize+12)
		if _, err := f.ReadAt(hdr, off); err != nil {
			continue
		}
		if binary.LittleEndian.Uint32(hdr[16:]) != boltMagic {
			continue
		}
		psz := int(binary.LittleEndian.Uint32(hdr[24:]))
		if psz >= 512 && psz <= 1<<16 && psz&(psz-1) == 0 {
			return psz
		}
	}
	return 4096
}

// leaf collects the records of a leaf page (or an inline bucket's page) and
// reports whether its elements were all in bounds.
func (s *Scan) leaf(page []byte, depth int) bool {
	if len(page) < pageHeaderSize || depth > 8 {
		return false
	}
	count := int(binary.LittleEndian.Uint16(page[10:]))
	if pageHeaderSize+count*leafElementSize > len(page) {
		return false
	}
	for e := range count {
		off := pageHeaderSize + e*leafElementSize
		el := page[off : off+leafElementSize]
		flags := binary.LittleEndian.Uint32(el[0:])
		pos := int64(binary.LittleEndian.Uint32(el[4:]))
		ksize := int64(binary.LittleEndian.Uint32(el[8:]))
		vsize := int64(binary.LittleEndian.Uint32(el[12:]))
		start := int64(off) + pos
		if pos == 0 || start+ksize+vsize > int64(len(page)) {
			return false
		}
		k := page[start : start+ksize]
		v := page[start+ksize : start+ksize+vsize]
		if flags&bucketLeafFlag != 0 {
			if len(v) > inlineBucketHdr && binary.LittleEndian.Uint64(v) == 0 {
				s.leaf(v[inlineBucketHdr:], depth+1)
			}
			continue
		}
		s.record(k, v)
	}
	return true
}

// record keeps k/v if it is an event or a delivery of the outbox's.
func (s *Scan) record(k, v []byte) {
	if len(v) == 0 || v[0] != '{' || len(k) < 8 {
		return
	}
	seq := binary.BigEndian.Uint64(k)
	switch {
	case len(k) == 8 && bytes.Contains(v, []byte(`"body"`)) && bytes.Contains(v, []byte(`"seq"`)):
		var e eventRecord
		if json.Unmarshal(v, &e) != nil || e.Seq != seq || !e.Type.Valid() {
			s.Unreadable++
			return
		}
		if _, ok := s.Events[seq]; !ok || !e.Unsynced {
			s.Events[seq] = e
		}
		if e.ID > s.MaxIDs[string(e.Type)] {
			s.MaxIDs[string(e.Type)] = e.ID
		}
	case len(k) > 8 && bytes.Contains(v, []byte(`"random_id"`)):
		var d deliveryRecord
		if json.Unmarshal(v, &d) != nil || d.Endpoint != string(k[8:]) || d.RandomID == "" {
			s.Unreadable++
			return
		}
		m := s.Deliveries[seq]
		if m == nil {
			m = map[string]deliveryRecord{}
			s.Deliveries[seq] = m
		}
		if prev, ok := m[d.Endpoint]; !ok || stateRank(d.State) > stateRank(prev.State) ||
			(stateRank(d.State) == stateRank(prev.State) && d.Attempts > prev.Attempts) {
			m[d.Endpoint] = d
		}
	}
}

// stateRank orders delivery states by how far along they are: a state
// never moves back to pending except by an operator's retry.
func stateRank(state string) int {
	switch state {
	case StateDelivered:
		return 2
	case StateDead:
		return 1
	}
	return 0
}

// Salvageable is one event found in a damaged file that some endpoint has
// not had.
type Salvageable struct {
	Event eventRecord
	// Pending are the endpoints still owed it, with the random id each was
	// (or would have been) sent with.
	Pending map[string]string
}

// Undelivered lists, oldest first, the events with at least one pending
// delivery and how many events were found already delivered everywhere,
// or without any delivery record.
func (s *Scan) Undelivered() (out []Salvageable, delivered, orphans int) {
	seqs := make([]uint64, 0, len(s.Events))
	for seq := range s.Events {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, seq := range seqs {
		ds := s.Deliveries[seq]
		if len(ds) == 0 {
			orphans++
			continue
		}
		pending := map[string]string{}
		for ep, d := range ds {
			if d.State == StatePending {
				pending[ep] = d.RandomID
			}
		}
		if len(pending) == 0 {
			delivered++
			continue
		}
		out = append(out, Salvageable{Event: s.Events[seq], Pending: pending})
	}
	return out, delivered, orphans
}
