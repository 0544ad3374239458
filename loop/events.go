//go:build linux

package loop

import (
	"strings"

	"golang.org/x/sys/unix"
)

// Events is an epoll interest or readiness set.
type Events uint32

const (
	Readable      Events = unix.EPOLLIN
	Writable      Events = unix.EPOLLOUT
	PeerClosed    Events = unix.EPOLLRDHUP // the peer shut down its writing side
	Hangup        Events = unix.EPOLLHUP   // always reported; no need to ask
	Error         Events = unix.EPOLLERR   // always reported; no need to ask
	EdgeTriggered Events = unix.EPOLLET    // interest flag: report changes only
)

func (e Events) String() string {
	var parts []string
	for _, b := range []struct {
		ev   Events
		name string
	}{{Readable, "in"}, {Writable, "out"}, {PeerClosed, "rdhup"}, {Hangup, "hup"}, {Error, "err"}, {EdgeTriggered, "et"}} {
		if e&b.ev != 0 {
			parts = append(parts, b.name)
		}
	}
	return strings.Join(parts, "|")
}

// Handler receives readiness events for a registered fd.
type Handler interface {
	HandleEvents(ev Events)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ev Events)

// HandleEvents calls f(ev).
func (f HandlerFunc) HandleEvents(ev Events) { f(ev) }
