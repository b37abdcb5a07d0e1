package sandbox

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Offsets into the kernel's struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
)

// auditArch is this build's AUDIT_ARCH_* value, which the filter checks so
// that a syscall number is never read in another ABI's table.
func auditArch() (uint32, error) {
	switch runtime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64, nil
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64, nil
	case "arm":
		return unix.AUDIT_ARCH_ARM, nil
	}
	return 0, fmt.Errorf("sandbox: no seccomp arch for %s", runtime.GOARCH)
}

// clockFilter is a classic BPF program: in this process's ABI, adjtimex and
// clock_adjtime return EPERM; everything else, and any other ABI, is allowed.
func clockFilter(arch uint32) []unix.SockFilter {
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jump := func(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
	}
	const (
		ld  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret = unix.BPF_RET | unix.BPF_K
	)
	return []unix.SockFilter{
		stmt(ld, offArch),
		jump(jeq, arch, 0, 3), // another ABI: allow
		stmt(ld, offNr),
		jump(jeq, uint32(unix.SYS_ADJTIMEX), 2, 0),
		jump(jeq, uint32(unix.SYS_CLOCK_ADJTIME), 1, 0),
		stmt(ret, unix.SECCOMP_RET_ALLOW),
		stmt(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM)),
	}
}

// DenyClock makes adjtimex and clock_adjtime fail with EPERM in every
// thread of this process and in whatever it executes from now on. It sets
// no_new_privs, as an unprivileged filter requires.
func DenyClock() error {
	arch, err := auditArch()
	if err != nil {
		return err
	}
	prog := clockFilter(arch)
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("sandbox: no_new_privs: %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return fmt.Errorf("sandbox: seccomp: %w", errno)
	}
	return nil
}
