package fdio_test

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain fails the run if the tests leave a file descriptor open or a
// child process unreaped. The fd baseline is taken after a warm-up that makes
// the Go runtime open what it opens lazily (the netpoller's epoll fd and its
// wake-up fd), so only the tests' own fds are counted.
func TestMain(m *testing.M) {
	warmUp()
	before, err := openFDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fd baseline:", err)
		os.Exit(2)
	}
	code := m.Run()
	if code == 0 {
		if err := checkLeaks(before); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func warmUp() {
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
}

// openFDs maps each open fd to what it refers to. The fd that reads the
// directory is gone by the time its link is read, so it is left out.
func openFDs() (map[string]string, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	fds := make(map[string]string, len(ents))
	for _, e := range ents {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue
		}
		fds[e.Name()] = target
	}
	return fds, nil
}

func checkLeaks(before map[string]string) error {
	var errs []error
	after, err := openFDs()
	if err != nil {
		return err
	}
	var leaked []string
	for fd, target := range after {
		if before[fd] != target {
			leaked = append(leaked, fd+" -> "+target)
		}
	}
	if len(leaked) > 0 {
		sort.Strings(leaked)
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
		errs = append(errs, fmt.Errorf("child %d was left unreaped (status %#x)", pid, ws))
	}
	return errors.Join(errs...)
}
