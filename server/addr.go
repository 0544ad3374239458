//go:build linux

package server

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultHost is the host of an address given as ":PORT". A server listens
// on all interfaces only when asked to explicitly ("0.0.0.0:PORT",
// "[::]:PORT").
const DefaultHost = "127.0.0.1"

// Addr is a parsed listening address.
type Addr struct {
	Network string // "tcp" or "unix"
	// For tcp: the resolved IP and the port (0 picks a free one).
	IP   netip.Addr
	Port int
	// For unix: the socket's path.
	Path string
}

// ParseAddr parses "host:port", ":port" (host DefaultHost), "port" alone,
// or "unix:/path". A host name is resolved, and the first address of it
// is used (IPv4 preferred, so "localhost" means 127.0.0.1).
func ParseAddr(s string) (Addr, error) {
	if path, ok := strings.CutPrefix(s, "unix:"); ok {
		if path == "" {
			return Addr{}, fmt.Errorf("address %q: empty unix socket path", s)
		}
		if len(path) >= len(unix.RawSockaddrUnix{}.Path) {
			return Addr{}, fmt.Errorf("address %q: unix socket path too long", s)
		}
		return Addr{Network: "unix", Path: path}, nil
	}
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		if _, perr := strconv.Atoi(s); perr != nil {
			return Addr{}, fmt.Errorf("address %q: want host:port, :port or unix:/path", s)
		}
		host, portStr = "", s
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return Addr{}, fmt.Errorf("address %q: bad port %q", s, portStr)
	}
	if host == "" {
		host = DefaultHost
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ips, lerr := net.LookupIP(host)
		if lerr != nil || len(ips) == 0 {
			return Addr{}, fmt.Errorf("address %q: cannot resolve %q: %w", s, host, lerr)
		}
		ip = pickIP(ips)
	}
	if ip.Zone() != "" {
		return Addr{}, fmt.Errorf("address %q: zoned IPv6 addresses are not supported", s)
	}
	return Addr{Network: "tcp", IP: ip.Unmap(), Port: port}, nil
}

// pickIP prefers an IPv4 address.
func pickIP(ips []net.IP) netip.Addr {
	for _, ip := range ips {
		if v4 := ip.To4(); v4 != nil {
			a, _ := netip.AddrFromSlice(v4)
			return a
		}
	}
	a, _ := netip.AddrFromSlice(ips[0])
	return a
}

// String is "host:port", "unix:/path", "unix" for an unnamed unix
// socket (a peer that did not bind), or "?" for the zero Addr.
func (a Addr) String() string {
	switch {
	case a.Network == "unix" && a.Path == "":
		return "unix"
	case a.Network == "unix":
		return "unix:" + a.Path
	case a.Network == "":
		return "?"
	}
	return netip.AddrPortFrom(a.IP, uint16(a.Port)).String()
}

// sockaddr returns the address family and the socket address to bind.
func (a Addr) sockaddr() (int, unix.Sockaddr) {
	switch {
	case a.Network == "unix":
		return unix.AF_UNIX, &unix.SockaddrUnix{Name: a.Path}
	case a.IP.Is4():
		return unix.AF_INET, &unix.SockaddrInet4{Addr: a.IP.As4(), Port: a.Port}
	default:
		return unix.AF_INET6, &unix.SockaddrInet6{Addr: a.IP.As16(), Port: a.Port}
	}
}

// AddrOf is the Addr of a socket address, e.g. an accepted peer's (its
// String is what logs and PIPELOOP_PEER show); the zero Addr for a family
// other than inet, inet6 and unix.
func AddrOf(sa unix.Sockaddr) Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return Addr{Network: "tcp", IP: netip.AddrFrom4(sa.Addr), Port: sa.Port}
	case *unix.SockaddrInet6:
		return Addr{Network: "tcp", IP: netip.AddrFrom16(sa.Addr), Port: sa.Port}
	case *unix.SockaddrUnix:
		return Addr{Network: "unix", Path: sa.Name}
	}
	return Addr{}
}
