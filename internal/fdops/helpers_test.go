package fdops_test

import (
	"github.com/pipeloop/pipeloop/internal/fdops"
)

// countingOps passes calls to the kernel and counts them by name.
type countingOps struct {
	fdops.Sys
	reads, readvs, writes, writevs, splices, vmsplices int
	partialWrites                                      int // write/writev that moved less than asked
}

func (c *countingOps) Read(fd int, p []byte) (int, error) {
	c.reads++
	return c.Sys.Read(fd, p)
}

func (c *countingOps) Readv(fd int, iov [][]byte) (int, error) {
	c.readvs++
	return c.Sys.Readv(fd, iov)
}

func (c *countingOps) Write(fd int, p []byte) (int, error) {
	c.writes++
	n, err := c.Sys.Write(fd, p)
	if n > 0 && n < len(p) {
		c.partialWrites++
	}
	return n, err
}

func (c *countingOps) Writev(fd int, iov [][]byte) (int, error) {
	c.writevs++
	n, err := c.Sys.Writev(fd, iov)
	if n > 0 && n < len(iov[0])+len(iov[1]) {
		c.partialWrites++
	}
	return n, err
}

func (c *countingOps) Vmsplice(fd int, iov [][]byte, flags int) (int, error) {
	c.vmsplices++
	return c.Sys.Vmsplice(fd, iov, flags)
}

func (c *countingOps) Splice(in, out, n, flags int) (int, error) {
	c.splices++
	return c.Sys.Splice(in, out, n, flags)
}
