package outbox

import (
	"time"

	"go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// releaseEvery is how often, at most, the dispatcher hands the file's
// mapped pages back to the kernel: after work, never while idle.
const releaseEvery = time.Second

// releaseMapped drops the pages of the memory-mapped file from the
// process's resident set (madvise MADV_DONTNEED). bbolt maps the file
// read-only and shared, so nothing is lost: a later read faults the page
// back in from the page cache. Without this, draining a large backlog
// touches page after page (copy-on-write moves every changed page) and the
// resident set grows towards the file's size, though none of it is the
// process's own memory.
//
// It runs inside a read transaction, which holds bbolt's mapping lock, so
// the mapping cannot move while it is advised.
func (o *Outbox) releaseMapped() {
	_ = o.db.View(func(tx *bbolt.Tx) error {
		info := o.db.Info()
		size := uintptr(tx.Size())
		if info.Data == 0 || size == 0 {
			return nil
		}
		_, _, errno := unix.Syscall(unix.SYS_MADVISE, info.Data, size, unix.MADV_DONTNEED)
		if errno != 0 {
			o.opts.Logger.Debug("releasing mapped pages", "err", errno)
		}
		return nil
	})
}
