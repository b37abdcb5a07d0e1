package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/webhook"
)

// TestReadFileMeta reads the page counts of a real outbox file, and of
// copies with a meta page or the freelist damaged.
func TestReadFileMeta(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "outbox.db")
	o, err := outbox.Open(path, outbox.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		_, err := o.Enqueue(context.Background(), outbox.Event{Type: webhook.ReceiveSMS, DedupeKey: fmt.Sprint("k", i),
			Body: func(id uint64) ([]byte, error) { return fmt.Appendf(nil, `{"id":%d}`, id), nil }})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := readFileMeta(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := want.PageSize
	if ps != os.Getpagesize() || want.Pages < 4 || want.Pages*uint64(ps) > uint64(len(good)) ||
		want.FreePages < 0 || uint64(want.FreePages) >= want.Pages || want.TxID < 200 {
		t.Fatalf("meta %+v of a %d-byte file after 200 commits", want, len(good))
	}
	newest, older := 0, ps // the page offsets of the newer and the older meta
	if want.TxID%2 == 1 {
		newest, older = ps, 0
	}
	freelist := int(binary.NativeEndian.Uint64(good[newest+boltPageHeader+32:])) * ps
	for _, tc := range []struct {
		name   string
		damage func(b []byte)
		check  func(m fileMeta) bool
		err    error
	}{
		{name: "intact", check: func(m fileMeta) bool { return m == want }},
		{name: "newest meta damaged", damage: func(b []byte) { b[newest+boltPageHeader+40]++ },
			check: func(m fileMeta) bool { return m.TxID == want.TxID-1 && m.PageSize == ps }},
		{name: "older meta damaged", damage: func(b []byte) { b[older+boltPageHeader]++ },
			check: func(m fileMeta) bool { return m == want }},
		{name: "both metas damaged", damage: func(b []byte) { b[boltPageHeader+8]++; b[ps+boltPageHeader+8]++ }, err: errNoMeta},
		{name: "freelist page reused", damage: func(b []byte) { b[freelist+8] = 0x02 },
			check: func(m fileMeta) bool { return m.FreePages == -1 && m.Pages == want.Pages }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := append([]byte(nil), good...)
			if tc.damage != nil {
				tc.damage(b)
			}
			p := filepath.Join(t.TempDir(), "copy.db")
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := readFileMeta(p)
			if !errors.Is(err, tc.err) || (err == nil && !tc.check(m)) {
				t.Errorf("readFileMeta = %+v, %v; intact %+v, want error %v", m, err, want, tc.err)
			}
		})
	}
}
