package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// fileMeta is what the newest valid meta page of a bbolt file says about
// its pages. The bench reads it from the file, as a measurement, so that
// only the owners of the file's contents (outbox and store) import bbolt.
type fileMeta struct {
	PageSize int
	// Pages is the high-water mark: the pages up to the last one in use.
	Pages uint64
	// FreePages counts the pages below it that are free or pending
	// release, as the freelist committed with that meta lists them.
	FreePages int
	TxID      uint64
}

// bbolt's layout (version 2): a 16-byte page header (id, flags, count,
// overflow), and on pages 0 and 1 the meta: magic, version, page size,
// flags, root bucket (page, sequence), freelist page, high-water mark,
// transaction id, then an FNV-64a checksum of what precedes it. Integers
// are in the machine's byte order.
const (
	boltPageHeader   = 16
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	boltMetaSize     = 64
	boltFreelistFlag = 0x10
	boltNoFreelist   = ^uint64(0)
)

var errNoMeta = errors.New("no valid bbolt meta page")

// readFileMeta reads the meta pages of the bbolt file at path and the
// freelist of the newest valid one.
func readFileMeta(path string) (fileMeta, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileMeta{}, err
	}
	defer f.Close()
	m0, ok0 := readMetaAt(f, 0)
	off1 := int64(os.Getpagesize()) // bbolt's default page size, if the first meta is damaged
	if ok0 {
		off1 = int64(m0.PageSize)
	}
	m1, ok1 := readMetaAt(f, off1)
	switch {
	case ok0 && (!ok1 || m0.TxID >= m1.TxID):
		return m0, nil
	case ok1:
		return m1, nil
	}
	return fileMeta{}, fmt.Errorf("%s: %w", path, errNoMeta)
}

// readMetaAt reads the meta page at off and its freelist's length.
func readMetaAt(f io.ReaderAt, off int64) (fileMeta, bool) {
	buf := make([]byte, boltPageHeader+boltMetaSize)
	if _, err := f.ReadAt(buf, off); err != nil {
		return fileMeta{}, false
	}
	meta := buf[boltPageHeader:]
	ne := binary.NativeEndian
	h := fnv.New64a()
	h.Write(meta[:56])
	if ne.Uint32(meta[0:]) != boltMagic || ne.Uint32(meta[4:]) != boltVersion || h.Sum64() != ne.Uint64(meta[56:]) {
		return fileMeta{}, false
	}
	m := fileMeta{PageSize: int(ne.Uint32(meta[8:])), Pages: ne.Uint64(meta[40:]), TxID: ne.Uint64(meta[48:]), FreePages: -1}
	if m.PageSize < 512 {
		return fileMeta{}, false
	}
	freelist := ne.Uint64(meta[32:])
	if freelist == boltNoFreelist || freelist >= m.Pages {
		return m, true
	}
	hdr := make([]byte, boltPageHeader+8)
	if _, err := f.ReadAt(hdr, int64(freelist)*int64(m.PageSize)); err != nil {
		return m, true
	}
	if ne.Uint64(hdr[0:]) != freelist || ne.Uint16(hdr[8:])&boltFreelistFlag == 0 {
		return m, true // reused since this meta was written
	}
	m.FreePages = int(ne.Uint16(hdr[10:]))
	if m.FreePages == 0xFFFF {
		m.FreePages = int(ne.Uint64(hdr[boltPageHeader:]))
	}
	return m, true
}
