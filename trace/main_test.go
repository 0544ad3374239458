//go:build linux

package trace_test

import (
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
)

// childEnv switches the test binary into a helper role (see TestMain):
//
//	writer: wait for EOF on fd 3, write PIPELOOP_TRACE_BLOCKS blocks of 64 KiB
//	        to stdout, sleeping PIPELOOP_TRACE_SLEEP before each write
//	reader: wait for EOF on fd 3, read stdin to EOF in 64 KiB reads, sleeping
//	        PIPELOOP_TRACE_SLEEP after each read
//	unpriv: report what Check, New and RunCommand say (run as user nobody)
//
// writer and reader print "wall_ns=N cpu_ns=N" for their loop on stderr:
// wall time and the CPU time of the (locked) thread doing the I/O.
const childEnv = "PIPELOOP_TRACE_TEST_CHILD"

const blockSize = 64 << 10

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "writer":
		os.Exit(childIO(true))
	case "reader":
		os.Exit(childIO(false))
	case "unpriv":
		os.Exit(childUnpriv())
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

func childIO(write bool) int {
	blocks := envInt("PIPELOOP_TRACE_BLOCKS", 100)
	sleep, _ := time.ParseDuration(os.Getenv("PIPELOOP_TRACE_SLEEP"))
	// Start signal: the parent closes the other end once it watches us.
	var one [1]byte
	for {
		if _, err := syscall.Read(3, one[:]); err != syscall.EINTR {
			break
		}
	}
	runtime.LockOSThread()
	buf := make([]byte, blockSize)
	const rusageThread = 1 // RUSAGE_THREAD
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(rusageThread, &ru0)
	t0 := time.Now()
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
	} else {
		for {
			n, err := syscall.Read(0, buf)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "read:", err)
				return 1
			}
			if n == 0 {
				break
			}
			if sleep > 0 {
				time.Sleep(sleep)
			}
		}
	}
	wall := time.Since(t0)
	syscall.Getrusage(rusageThread, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	fmt.Fprintf(os.Stderr, "wall_ns=%d cpu_ns=%d\n", wall, cpu)
	return 0
}

// childUnpriv prints one line per entry point: "check: ERR", "new: ERR",
// "command: CODE STDERR"; ERR is followed by " [permission]" if it wraps
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
	var stderr strings.Builder
	code := trace.RunCommand(context.Background(), []string{"--pid", "1"}, io.Discard, &stderr)
	fmt.Printf("command: %d %q\n", code, stderr.String())
	return 0
}
