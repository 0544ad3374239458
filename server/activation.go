//go:build linux

package server

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Inherited listening sockets. Listen takes, besides addresses:
//
//	systemd       the one socket systemd passed (socket activation)
//	systemd:NAME  the socket named NAME (FileDescriptorName= in the unit)
//	fd:N          listening socket N, inherited from whoever started us
//
// systemd's protocol (sd_listen_fds(3)): LISTEN_PID is the pid the
// sockets are meant for — ours, or they were meant for a parent and are
// not ours to take —, LISTEN_FDS how many there are, starting at fd 3
// (SD_LISTEN_FDS_START), and LISTEN_FDNAMES their names, separated by
// colons. The variables are read, not unset (the environment is the
// process's, not this package's): a child sees a LISTEN_PID that is not
// its own and leaves them alone.

// listenFDsStart is SD_LISTEN_FDS_START.
const listenFDsStart = 3

// activated returns the fds systemd passed to process pid, by name, in
// order (an unnamed one is called "unknown", as systemd does).
func activated(getenv func(string) string, pid int) (fds []int, names []string, err error) {
	pidStr := getenv("LISTEN_PID")
	if pidStr == "" {
		return nil, nil, fmt.Errorf("socket activation: LISTEN_PID is not set (not started by systemd socket activation)")
	}
	if p, err := strconv.Atoi(pidStr); err != nil || p != pid {
		return nil, nil, fmt.Errorf("socket activation: LISTEN_PID is %s, not this process (%d): the sockets are not ours", pidStr, pid)
	}
	n, err := strconv.Atoi(getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return nil, nil, fmt.Errorf("socket activation: LISTEN_FDS is %q, want a positive count", getenv("LISTEN_FDS"))
	}
	all := strings.Split(getenv("LISTEN_FDNAMES"), ":")
	for i := range n {
		fds = append(fds, listenFDsStart+i)
		name := "unknown"
		if i < len(all) && all[i] != "" {
			name = all[i]
		}
		names = append(names, name)
	}
	return fds, names, nil
}

// listenInherited is Listen for "systemd", "systemd:NAME" and "fd:N";
// ok is false for any other address.
func listenInherited(addr string, cfg ListenConfig) (ln *Listener, ok bool, err error) {
	if s, found := strings.CutPrefix(addr, "fd:"); found {
		fd, err := strconv.Atoi(s)
		if err != nil || fd < 0 {
			return nil, true, fmt.Errorf("address %q: want fd:N with N a descriptor number", addr)
		}
		ln, err := ListenFD(fd, cfg)
		return ln, true, err
	}
	name, named := strings.CutPrefix(addr, "systemd:")
	if addr != "systemd" && !named {
		return nil, false, nil
	}
	fds, names, err := activated(os.Getenv, os.Getpid())
	if err != nil {
		return nil, true, err
	}
	switch {
	case !named && len(fds) > 1:
		return nil, true, fmt.Errorf("socket activation: %d sockets passed (%s): pick one with systemd:NAME", len(fds), strings.Join(names, ", "))
	case !named:
		ln, err := ListenFD(fds[0], cfg)
		return ln, true, err
	}
	for i, n := range names {
		if n == name {
			ln, err := ListenFD(fds[i], cfg)
			return ln, true, err
		}
	}
	return nil, true, fmt.Errorf("socket activation: no socket named %q (passed: %s)", name, strings.Join(names, ", "))
}

// ListenFD adopts fd, a listening stream socket this process inherited
// (from systemd, inetd's wait mode, a supervisor), as a Listener that
// owns it: Close closes it, and never removes a unix socket's file (it
// is the creator's). The socket is made close-on-exec and nonblocking;
// O_NONBLOCK is set on the open file description, which the process that
// passed it shares — as every server that adopts a socket does, since a
// loop must never block in accept. cfg.Backlog is not used (the creator
// chose it).
func ListenFD(fd int, cfg ListenConfig) (*Listener, error) {
	if cfg.AcceptBatch <= 0 {
		cfg.AcceptBatch = 16
	}
	fail := func(what string, err error) (*Listener, error) {
		return nil, fmt.Errorf("listen fd:%d: %w", fd, os.NewSyscallError(what, err))
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil {
		return fail("getsockopt(SO_ACCEPTCONN)", err)
	} else if v == 0 {
		return nil, fmt.Errorf("listen fd:%d: not a listening socket", fd)
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil {
		return fail("getsockopt(SO_TYPE)", err)
	} else if v != unix.SOCK_STREAM {
		return nil, fmt.Errorf("listen fd:%d: not a stream socket", fd)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	var a Addr
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		a = Addr{Network: "tcp", IP: netip.AddrFrom4(sa.Addr), Port: sa.Port}
	case *unix.SockaddrInet6:
		a = Addr{Network: "tcp", IP: netip.AddrFrom16(sa.Addr).Unmap(), Port: sa.Port}
	case *unix.SockaddrUnix:
		a = Addr{Network: "unix", Path: sa.Name}
	default:
		return nil, fmt.Errorf("listen fd:%d: unsupported address family", fd)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return fail("fcntl(F_SETFD)", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return fail("fcntl(O_NONBLOCK)", err)
	}
	return &Listener{fd: fd, open: true, addr: a, batch: cfg.AcceptBatch}, nil
}
