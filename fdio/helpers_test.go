package fdio_test

import (
	"math/rand/v2"
	"testing"

	"github.com/pipeloop/pipeloop/fdio"
	"golang.org/x/sys/unix"
)

// pipe returns a new pipe whose ends are closed when the test ends.
// Closing an end early is done with closeFD, which the cleanup tolerates.
func pipe(t testing.TB, nonblockR, nonblockW bool) (r, w int) {
	t.Helper()
	r, w, err := fdio.Pipe(nonblockR, nonblockW)
	if err != nil {
		t.Fatal(err)
	}
	closeAtEnd(t, &r)
	closeAtEnd(t, &w)
	return r, w
}

// closeAtEnd closes *fd when the test ends unless closeFD already did.
func closeAtEnd(t testing.TB, fd *int) {
	t.Cleanup(func() {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	})
}

func closeFD(t testing.TB, fd *int) {
	t.Helper()
	if err := unix.Close(*fd); err != nil {
		t.Errorf("close %d: %v", *fd, err)
	}
	*fd = -1
}

// pattern returns n reproducible pseudo-random bytes.
func pattern(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	return p
}

// writeAll writes p to a blocking or nonblocking fd that has room for it.
func writeAll(t testing.TB, fd int, p []byte) {
	t.Helper()
	for len(p) > 0 {
		n, err := unix.Write(fd, p)
		if err != nil {
			t.Fatalf("write %d bytes to %d: %v", len(p), fd, err)
		}
		p = p[n:]
	}
}

// readN reads exactly n bytes from a fd that already holds them.
func readN(t testing.TB, fd, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	for got := 0; got < n; {
		m, err := unix.Read(fd, p[got:])
		if err != nil || m == 0 {
			t.Fatalf("read %d of %d bytes from %d: (%d, %v)", got, n, fd, m, err)
		}
		got += m
	}
	return p
}

// countingOps passes calls to the kernel and counts them by name.
type countingOps struct {
	fdio.Sys
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
