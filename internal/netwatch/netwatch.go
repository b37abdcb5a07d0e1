// Package netwatch tells when the host's network changes in a way that may
// have brought connectivity back: a link comes up, an address is added, or
// a default route appears. It listens on a NETLINK_ROUTE socket, so the
// outbox can probe unreachable endpoints at once instead of waiting for its
// probe backoff.
package netwatch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Quiet is the shortest time between two signals: the first message of a
// burst (a link coming up brings its addresses and routes) is signalled at
// once, the rest at most once per Quiet, the last one never dropped.
const Quiet = 200 * time.Millisecond

// groups are the multicast groups the socket joins.
const groups = unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR |
	unix.RTMGRP_IPV4_ROUTE | unix.RTMGRP_IPV6_ROUTE

// Listener is a NETLINK_ROUTE socket subscribed to link, address and route
// changes.
type Listener struct {
	f *os.File
	p parser
}

// Listen opens the socket in the calling thread's network namespace.
func Listen() (*Listener, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netwatch: socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netwatch: bind: %w", err)
	}
	// Non-blocking, so that the runtime's poller serves reads, deadlines and
	// a Close that interrupts a read.
	return &Listener{f: os.NewFile(uintptr(fd), "netlink-route"), p: parser{up: make(map[int32]bool)}}, nil
}

// Close closes the socket; a Run in progress returns.
func (l *Listener) Close() error { return l.f.Close() }

// Run calls changed when the network changes (see Quiet), until ctx ends or
// the socket fails; it closes the socket before it returns. It returns nil
// when ctx ends.
func (l *Listener) Run(ctx context.Context, changed func()) error {
	stop := context.AfterFunc(ctx, func() { l.f.Close() })
	defer func() {
		if stop() {
			l.f.Close()
		}
	}()
	buf := make([]byte, 64<<10)
	var last time.Time // when changed last ran
	pending := false   // a change came within Quiet of last
	for {
		deadline := time.Time{}
		if pending {
			deadline = last.Add(Quiet)
		}
		if err := l.f.SetReadDeadline(deadline); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("netwatch: %w", err)
		}
		n, err := l.f.Read(buf)
		seen := false
		switch {
		case err == nil:
			// A message that does not parse may still have been a change:
			// take it for one and keep watching (returning would end the
			// watch for the daemon's life).
			if seen, err = l.p.changed(buf[:n]); err != nil {
				seen = true
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
		case errors.Is(err, unix.ENOBUFS):
			seen = true // the kernel dropped messages: one may have mattered
		case ctx.Err() != nil:
			return nil
		default:
			return fmt.Errorf("netwatch: read: %w", err)
		}
		pending = pending || seen
		if pending && time.Since(last) >= Quiet {
			changed()
			last, pending = time.Now(), false
		}
	}
}

// parser reads netlink messages, remembering which links are up.
type parser struct {
	up map[int32]bool // by interface index: up and with a carrier
}

// Flags of interest, from the kernel's uapi headers.
const (
	ifaTentative = 0x40 // IFA_F_TENTATIVE: duplicate address detection not done
	rtTableLocal = 255  // RT_TABLE_LOCAL: the host's own addresses
)

// errMalformed is a message that does not fit its buffer.
var errMalformed = errors.New("malformed netlink message")

// changed reports whether the messages in b say the network may have
// gained connectivity: a link (not the loopback) came up with a carrier, a
// usable address was added (neither host nor link scope, nor tentative),
// or a default unicast route was added to a routing table other than the
// local one. Other messages (removals, links going down, other routes) are
// skipped.
func (p *parser) changed(b []byte) (bool, error) {
	ne := binary.NativeEndian
	found := false
	for len(b) > 0 {
		if len(b) < unix.NLMSG_HDRLEN {
			return found, errMalformed
		}
		n := int(ne.Uint32(b[0:4]))
		if n < unix.NLMSG_HDRLEN || n > len(b) {
			return found, errMalformed
		}
		typ, body := ne.Uint16(b[4:6]), b[unix.NLMSG_HDRLEN:n]
		switch typ {
		case unix.RTM_NEWLINK, unix.RTM_DELLINK:
			if len(body) < unix.SizeofIfInfomsg {
				return found, errMalformed
			}
			index, flags := int32(ne.Uint32(body[4:8])), ne.Uint32(body[8:12])
			up := typ == unix.RTM_NEWLINK && flags&unix.IFF_UP != 0 && flags&(unix.IFF_LOWER_UP|unix.IFF_RUNNING) != 0
			if up && !p.up[index] && flags&unix.IFF_LOOPBACK == 0 {
				found = true
			}
			if up {
				p.up[index] = true
			} else {
				delete(p.up, index)
			}
		case unix.RTM_NEWADDR:
			if len(body) < unix.SizeofIfAddrmsg {
				return found, errMalformed
			}
			flags, scope := body[2], body[3]
			if scope != unix.RT_SCOPE_HOST && scope != unix.RT_SCOPE_LINK && flags&ifaTentative == 0 {
				found = true
			}
		case unix.RTM_NEWROUTE:
			if len(body) < unix.SizeofRtMsg {
				return found, errMalformed
			}
			dstLen, table, kind := body[1], uint32(body[4]), body[7]
			if t, ok := attr(body[unix.SizeofRtMsg:], unix.RTA_TABLE); ok && len(t) == 4 {
				table = ne.Uint32(t)
			}
			if dstLen == 0 && kind == unix.RTN_UNICAST && table != rtTableLocal {
				found = true
			}
		}
		b = b[min(align(n), len(b)):]
	}
	return found, nil
}

// attr finds the route attribute of type typ in b.
func attr(b []byte, typ uint16) ([]byte, bool) {
	ne := binary.NativeEndian
	for len(b) >= unix.SizeofRtAttr {
		n := int(ne.Uint16(b[0:2]))
		if n < unix.SizeofRtAttr || n > len(b) {
			return nil, false
		}
		if ne.Uint16(b[2:4]) == typ {
			return b[unix.SizeofRtAttr:n], true
		}
		b = b[min(align(n), len(b)):]
	}
	return nil, false
}

// align rounds n up to netlink's 4-byte alignment.
func align(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }
