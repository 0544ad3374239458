//go:build linux

package relay

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// sinkRefused is the one mapping of a write to the sink that moved nothing,
// for every copy path (the ring's drain in pump.go, the transform's chunks
// in transform.go), as internal/poll's convertErr is for Go's own I/O:
//
//	EINTR              nothing happened: try again at once (progress)
//	EAGAIN             the sink is full: dstReady stays clear until its
//	                   epoll event says there is room
//	EPIPE, ECONNRESET  the sink's reader left: sinkGone
//	anything else      the link fails, naming the sink and the system call
//	                   (op, unless err is an *os.SyscallError already)
//
// It reports whether the pump may go on (false: the link has ended) and
// whether the attempt counts as progress.
func (k *Link) sinkRefused(op string, err error) (goOn, progress bool) {
	var se *os.SyscallError
	switch {
	case errors.Is(err, unix.EINTR):
		return true, true
	case isAgain(err):
		k.dstReady = false
		k.stats.WriteEAGAIN++
		return true, false
	case isGone(err):
		k.sinkGone()
		return false, false
	case !errors.As(err, &se):
		err = os.NewSyscallError(op, err)
	}
	k.fail(k.dst, err)
	return false, false
}
