//go:build linux

package trace_test

import (
	"cmp"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/trace"
	"golang.org/x/sys/unix"
)

// childSockSplicer splices between its pipes and a socket, waiting on the
// socket each time: from an empty socket into stdout (an empty pipe), then
// from stdin (a pipe holding data) into a socket whose send buffer is
// full. Another goroutine ends each wait after PIPELOOP_TRACE_SLEEP
// (300 ms by default).
func childSockSplicer() int {
	awaitStart()
	m := startMeter()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "socketpair:", err)
		return 1
	}
	a, b := fds[0], fds[1]
	wait, err := time.ParseDuration(cmp.Or(os.Getenv("PIPELOOP_TRACE_SLEEP"), "300ms"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "PIPELOOP_TRACE_SLEEP:", err)
		return 1
	}
	later := func(f func()) { go func() { time.Sleep(wait); f() }() }
	splice := func(from, to int) error {
		for {
			_, err := syscall.Splice(from, nil, to, nil, 1000, 0)
			if err != syscall.EINTR {
				return err
			}
		}
	}
	later(func() { unix.Write(b, []byte("x")) })
	if err := splice(a, 1); err != nil {
		fmt.Fprintln(os.Stderr, "splice socket to pipe:", err)
		return 1
	}
	unix.SetNonblock(a, true)
	for {
		if _, err := unix.Write(a, make([]byte, 64<<10)); err != nil {
			break // EAGAIN: the send buffer is full
		}
	}
	unix.SetNonblock(a, false)
	later(func() {
		unix.SetNonblock(b, true)
		buf := make([]byte, 64<<10)
		for {
			if _, err := unix.Read(b, buf); err != nil {
				return
			}
		}
	})
	if err := splice(0, a); err != nil {
		fmt.Fprintln(os.Stderr, "splice pipe to socket:", err)
		return 1
	}
	return m.done()
}

// A splice between a pipe and a socket that waits on the socket is not a
// pipe stall: not "writing" an empty pipe, nor "reading" one that holds
// data; nor is such a wait in progress at attach (found from /proc).
func TestSpliceWaitingOnSocket(t *testing.T) {
	for _, atAttach := range []bool{false, true} {
		t.Run(map[bool]string{false: "watched first", true: "watched while splicing"}[atAttach], func(t *testing.T) {
			tr := newTracer(t, trace.Options{})
			in, toChild, inIno := pipe(t)
			fromChild, out, outIno := pipe(t)
			defer fromChild.Close()
			g := newGroup(t)
			c := g.start("socksplicer", in, out)
			in.Close()
			out.Close()
			if _, err := toChild.Write(make([]byte, 1000)); err != nil { // stdin holds data
				t.Fatal(err)
			}
			pid := c.cmd.Process.Pid
			if atAttach {
				g.release()
				blockedIn(t, pid, 275) // splice, from the empty socket
			}
			if err := tr.Watch(pid); err != nil {
				t.Fatal(err)
			}
			if !atAttach {
				g.release()
			}
			wall, _ := c.wait(t)
			rep, err := tr.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range rep.Records {
				if rec.Tgid == pid && (rec.Inode == inIno || rec.Inode == outIno) && rec.Total > 100*time.Millisecond {
					t.Errorf("waits on the socket charged to a pipe (in %d, out %d) over %v: %+v", inIno, outIno, wall, rec)
				}
			}
		})
	}
}

// childVCopier copies stdin to stdout with preadv2 and pwritev2 at offset
// -1 (the file position: what works on a pipe) until EOF.
func childVCopier() int {
	awaitStart()
	m := startMeter()
	return copyOut(m, make([]byte, blockSize),
		func(p []byte) (int, error) { return unix.Preadv2(0, [][]byte{p}, -1, 0) },
		func(p []byte) (int, error) { return unix.Pwritev2(1, [][]byte{p}, -1, 0) })
}
