// Package leakcheck is for TestMain: it fails a test binary that leaves a
// file descriptor open or a child process unreaped.
//
//	func TestMain(m *testing.M) { os.Exit(leakcheck.Main(m)) }
package leakcheck

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Runner is what TestMain gets: *testing.M.
type Runner interface{ Run() int }

// Main runs m and returns its exit code, turned into a failure when the
// tests leaked an fd or left a child behind. The fd baseline is taken after
// the Go runtime has opened what it opens lazily (the netpoller's epoll fd
// and its wake-up fd). Children get a grace period to be reaped, since a
// test may end while a goroutine it started is still in Wait.
func Main(m Runner) int {
	warmUp()
	before, err := FDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, "leakcheck: fd baseline:", err)
		return 2
	}
	code := m.Run()
	if code != 0 {
		return code
	}
	if err := Check(before, 5*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: leakcheck:", err)
		return 1
	}
	return 0
}

func warmUp() {
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
}

// FDs maps each open fd of this process to what it refers to.
func FDs() (map[string]string, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	fds := make(map[string]string, len(ents))
	for _, e := range ents {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the fd that read the directory, closed by now
		}
		fds[e.Name()] = target
	}
	return fds, nil
}

// Leaked lists the fds in after that are not in before.
func Leaked(before, after map[string]string) []string {
	var leaked []string
	for fd, target := range after {
		if before[fd] != target {
			leaked = append(leaked, fd+" -> "+target)
		}
	}
	sort.Strings(leaked)
	return leaked
}

// Check compares the open fds with before and looks for children, waiting
// up to grace for running children to exit and for fds to settle. A child
// found exited but unreaped is reaped and reported at once.
func Check(before map[string]string, grace time.Duration) error {
	deadline := time.Now().Add(grace)
	for {
		final, err := check(before)
		if err == nil || final || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func check(before map[string]string) (final bool, err error) {
	var errs []error
	after, err := FDs()
	if err != nil {
		return true, err
	}
	if leaked := Leaked(before, after); len(leaked) > 0 {
		errs = append(errs, fmt.Errorf("%d fds leaked: %s", len(leaked), strings.Join(leaked, ", ")))
	}
	var ws unix.WaitStatus
	switch pid, err := unix.Wait4(-1, &ws, unix.WNOHANG|unix.WALL, nil); {
	case errors.Is(err, unix.ECHILD):
	case err != nil:
		errs = append(errs, fmt.Errorf("wait4: %w", err))
	case pid == 0:
		errs = append(errs, errors.New("a child process is still running"))
	default:
		errs = append(errs, fmt.Errorf("child %d exited and was left unreaped (status %#x)", pid, uint32(ws)))
		final = true
	}
	return final, errors.Join(errs...)
}
