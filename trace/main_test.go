//go:build linux

package trace_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/trace"
	"golang.org/x/sys/unix"
)

// childEnv switches the test binary into a helper role (see TestMain):
//
//	writer: wait for the start (fd 3), write PIPELOOP_TRACE_BLOCKS blocks of 64 KiB
//	        to stdout, sleeping PIPELOOP_TRACE_SLEEP before each write
//	reader: wait for the start (fd 3), read stdin to EOF in 64 KiB reads, sleeping
//	        PIPELOOP_TRACE_SLEEP after each read
//	splicer: wait for the start (fd 3), splice stdin to stdout until EOF
//	poller: wait for the start (fd 3), then epoll_wait for stdin and read it
//	        until EOF
//	socksplicer: wait for the start (fd 3), splice from a socket into stdout
//	        and from stdin into a socket, each waiting on the socket for
//	        PIPELOOP_TRACE_SLEEP (300ms by default; socksplice_test.go)
//	vcopier: wait for the start (fd 3), copy stdin to stdout with preadv2
//	        and pwritev2 at offset -1 until EOF (socksplice_test.go)
//	uringer: wait for the start (fd 3), then relay stdin to stdout, reading
//	        through an io_uring (uring_test.go); uringer-async: every read
//	        handed to an io_uring worker (IOSQE_ASYNC)
//	newthread: as reader, on a thread created after the start (threads_test.go)
//	threads: hold PIPELOOP_TRACE_THREADS extra threads until the start, then exit
//	hog:    wait for the start (fd 3), spin on the CPU numbered
//	        PIPELOOP_TRACE_CPU until stdin is closed
//	unpriv: report what Check, New and Command.Run say (run as user nobody)
//	caps:   trace itself for a moment and print "ok" (run as user nobody
//	        with CAP_BPF and CAP_PERFMON); with PIPELOOP_TRACE_PID, trace
//	        that process instead and print Dropped.Attach
//	blockread: read stdin to EOF and write to the file PIPELOOP_TRACE_RESULT
//	        how many reads slept (stress_test.go)
//
// With PIPELOOP_TRACE_CPU=N, the I/O thread of writer and reader runs on
// CPU N only, in SCHED_IDLE with PIPELOOP_TRACE_IDLE=1 (see pin).
//
// All but unpriv print "wall_ns=N cpu_ns=N" for their loop on stderr:
// wall time and the CPU time of the (locked) thread doing the I/O.
const childEnv = "PIPELOOP_TRACE_TEST_CHILD"

const blockSize = 64 << 10

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "writer":
		os.Exit(childIO(true))
	case "reader":
		os.Exit(childIO(false))
	case "splicer":
		os.Exit(childSplicer())
	case "poller":
		os.Exit(childPoller())
	case "socksplicer":
		os.Exit(childSockSplicer())
	case "vcopier":
		os.Exit(childVCopier())
	case "uringer":
		os.Exit(childUringer(false))
	case "uringer-async":
		os.Exit(childUringer(true))
	case "hog":
		os.Exit(childHog())
	case "newthread":
		os.Exit(childNewThread())
	case "threads":
		os.Exit(childThreads())
	case "unpriv":
		os.Exit(childUnpriv())
	case "caps":
		os.Exit(childCaps())
	case "blockread":
		os.Exit(childBlockRead())
	case "execthread":
		os.Exit(childExecThread())
	case "bigexit":
		os.Exit(childBigExit())
	}
	before := openFds()
	code := m.Run()
	if code == 0 {
		after := openFds()
		for fd, what := range after {
			if before[fd] != what {
				fmt.Fprintf(os.Stderr, "leaked fd %d: %s\n", fd, what)
				code = 1
			}
		}
	}
	os.Exit(code)
}

// openFds returns this process's fds that are pipes or BPF objects.
func openFds() map[int]string {
	out := make(map[int]string)
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err == nil && (strings.HasPrefix(target, "pipe:") || strings.HasPrefix(target, "anon_inode:bpf")) {
			out[fd] = target
		}
	}
	return out
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

// awaitStart reports on fd 4 that this child is ready, then blocks until
// the parent, once all children are ready and watched, closes the other
// end of fd 3.
func awaitStart() {
	var one [1]byte
	syscall.Write(4, one[:])
	syscall.Close(4)
	for {
		if _, err := syscall.Read(3, one[:]); err != syscall.EINTR {
			return
		}
	}
}

// meter measures the wall time and this thread's CPU time of a child's
// loop; done prints them as "wall_ns=N cpu_ns=N" on stderr.
type meter struct {
	t0  time.Time
	ru0 syscall.Rusage
}

const rusageThread = 1 // RUSAGE_THREAD

func startMeter() *meter {
	runtime.LockOSThread()
	m := &meter{t0: time.Now()}
	syscall.Getrusage(rusageThread, &m.ru0)
	return m
}

func (m *meter) done() int {
	wall := time.Since(m.t0)
	var ru1 syscall.Rusage
	syscall.Getrusage(rusageThread, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - m.ru0.Utime.Nano() - m.ru0.Stime.Nano())
	fmt.Fprintf(os.Stderr, "wall_ns=%d cpu_ns=%d\n", wall, cpu)
	return 0
}

// copyOut is a helper role's loop: read until EOF (0), retrying EINTR, and
// write each piece in full (a nil write: read moved the data itself, as
// splice does); then the meter's figures (if m is not nil). It returns the
// role's exit status.
func copyOut(m *meter, buf []byte, read, write func([]byte) (int, error)) int {
	for {
		n, err := read(buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "read:", err)
			return 1
		}
		if n == 0 {
			if m == nil {
				return 0
			}
			return m.done()
		}
		for off := 0; write != nil && off < n; {
			k, err := write(buf[off:n])
			if err != nil && err != syscall.EINTR {
				fmt.Fprintln(os.Stderr, "write:", err)
				return 1
			}
			off += max(k, 0)
		}
	}
}

// pin puts the calling (locked) thread on PIPELOOP_TRACE_CPU, and with
// PIPELOOP_TRACE_IDLE=1 in SCHED_IDLE, if set: both are per thread on
// Linux. A SCHED_IDLE thread woken beside a busy normal one does not
// preempt it: it waits for the CPU, a known runnable delay.
func pin() {
	cpu := envInt("PIPELOOP_TRACE_CPU", -1)
	if cpu < 0 {
		return
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		fmt.Fprintln(os.Stderr, "sched_setaffinity:", err)
	}
	if envInt("PIPELOOP_TRACE_IDLE", 0) == 1 {
		const schedIdle = 5 // SCHED_IDLE
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: schedIdle}
		if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
			fmt.Fprintln(os.Stderr, "sched_setattr:", err)
		}
	}
}

// childHog keeps its CPU busy until stdin reaches EOF.
func childHog() int {
	awaitStart()
	runtime.LockOSThread()
	pin()
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	for n := 0; ; n++ {
		if n%(1<<16) == 0 {
			select {
			case <-done:
				return 0
			default:
			}
		}
	}
}

func childSplicer() int {
	awaitStart()
	m := startMeter()
	return copyOut(m, nil, func([]byte) (int, error) {
		n, err := syscall.Splice(0, nil, 1, nil, blockSize, 0)
		return int(n), err
	}, nil)
}

func childPoller() int {
	awaitStart()
	m := startMeter()
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		fmt.Fprintln(os.Stderr, "epoll_create1:", err)
		return 1
	}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, 0, &syscall.EpollEvent{Events: syscall.EPOLLIN}); err != nil {
		fmt.Fprintln(os.Stderr, "epoll_ctl:", err)
		return 1
	}
	events := make([]syscall.EpollEvent, 1)
	return copyOut(m, make([]byte, blockSize), func(p []byte) (int, error) {
		if _, err := syscall.EpollWait(epfd, events, -1); err != nil {
			return 0, err // EINTR: copyOut waits again
		}
		return syscall.Read(0, p) // readable: does not block
	}, nil)
}

func childIO(write bool) int {
	blocks := envInt("PIPELOOP_TRACE_BLOCKS", 100)
	sleep, _ := time.ParseDuration(os.Getenv("PIPELOOP_TRACE_SLEEP"))
	awaitStart()
	buf := make([]byte, blockSize)
	m := startMeter()
	pin()
	if write {
		for range blocks {
			if sleep > 0 {
				time.Sleep(sleep)
			}
			for off := 0; off < len(buf); {
				n, err := syscall.Write(1, buf[off:])
				if err == syscall.EINTR {
					continue
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, "write:", err)
					return 1
				}
				off += n
			}
		}
		return m.done()
	}
	return copyOut(m, buf, func(p []byte) (int, error) {
		n, err := syscall.Read(0, p)
		if n > 0 && sleep > 0 {
			time.Sleep(sleep)
		}
		return n, err
	}, nil)
}

// childUnpriv prints one line per entry point: "check: ERR", "new: ERR",
// "command: ERR"; ERR is followed by " [permission]" if it wraps
// trace.ErrPermission.
func childUnpriv() int {
	kind := func(err error) string {
		if errors.Is(err, trace.ErrPermission) {
			return " [permission]"
		}
		return ""
	}
	err := trace.Check()
	fmt.Printf("check: %v%s\n", err, kind(err))
	tr, err := trace.New(trace.Options{})
	if tr != nil {
		tr.Close()
	}
	fmt.Printf("new: %v%s\n", err, kind(err))
	err = trace.Command{PIDs: []int{1}}.Run(context.Background(), io.Discard, io.Discard)
	fmt.Printf("command: %v%s\n", err, kind(err))
	return 0
}

// childCaps traces PIPELOOP_TRACE_PID (else itself) for a moment and
// prints "ok", or with PIPELOOP_TRACE_PID, how many threads asleep at
// attach it could not classify (Dropped.Attach).
func childCaps() int {
	tr, err := trace.New(trace.Options{})
	if err != nil {
		fmt.Println(err)
		return 0
	}
	defer tr.Close()
	pid := envInt("PIPELOOP_TRACE_PID", 0)
	if err := tr.Watch(cmp.Or(pid, os.Getpid())); err != nil {
		fmt.Println(err)
		return 0
	}
	rep, err := tr.Snapshot()
	switch {
	case err != nil:
		fmt.Println(err)
	case pid != 0:
		fmt.Println("dropped at attach:", rep.Dropped.Attach)
	default:
		fmt.Println("ok")
	}
	return 0
}
