//go:build linux

package relay

import (
	"errors"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/internal/fdops"
	"golang.org/x/sys/unix"
)

// nowaitPipe is the Ops of a pipe the relay could not reopen (another
// user's): reads and writes with RWF_NOWAIT (fdops.PipeOps) until the
// kernel refuses it with EOPNOTSUPP, which it does on a description that
// anyone has spliced — another process before pipeloop started, or
// pipeloop's own splice, even one that failed with EINVAL and fell back to
// copying. From then on the shared description is made nonblocking (the
// last resort, see watch) and plain system calls follow.
type nowaitPipe struct{ w *watch }

// again reports whether err is the refusal that calls for the last resort,
// after taking it.
func (o nowaitPipe) again(err error) bool {
	if !errors.Is(err, unix.EOPNOTSUPP) || o.w.restore {
		return false
	}
	return o.w.lastResort() == nil
}

func (o nowaitPipe) Read(fd int, p []byte) (int, error) {
	if !o.w.restore {
		n, err := fdops.PipeOps{}.Read(fd, p)
		if !o.again(err) {
			return n, err
		}
	}
	return fdops.Sys{}.Read(fd, p)
}

func (o nowaitPipe) Readv(fd int, iov [][]byte) (int, error) {
	if !o.w.restore {
		n, err := fdops.PipeOps{}.Readv(fd, iov)
		if !o.again(err) {
			return n, err
		}
	}
	return fdops.Sys{}.Readv(fd, iov)
}

func (o nowaitPipe) Write(fd int, p []byte) (int, error) {
	if !o.w.restore {
		n, err := fdops.PipeOps{}.Write(fd, p)
		if !o.again(err) {
			return n, err
		}
	}
	return fdops.Sys{}.Write(fd, p)
}

func (o nowaitPipe) Writev(fd int, iov [][]byte) (int, error) {
	if !o.w.restore {
		n, err := fdops.PipeOps{}.Writev(fd, iov)
		if !o.again(err) {
			return n, err
		}
	}
	return fdops.Sys{}.Writev(fd, iov)
}

func (nowaitPipe) Splice(in, out, n, flags int) (int, error) {
	return fdops.Sys{}.Splice(in, out, n, flags)
}

func (nowaitPipe) Vmsplice(fd int, iov [][]byte, flags int) (int, error) {
	return fdops.Sys{}.Vmsplice(fd, iov, flags)
}

// lastResort makes the shared description nonblocking, to be cleared when
// the last link is done (detach).
func (w *watch) lastResort() error {
	if err := fdio.SetNonblock(w.fd, true); err != nil {
		return err
	}
	w.restore = true
	return nil
}
