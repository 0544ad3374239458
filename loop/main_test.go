package loop_test

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// childEnv switches the test binary into a helper child process; see
// runChild. Tests start it with startChild.
const childEnv = "PIPELOOP_LOOP_TEST_CHILD"

// TestMain runs a helper child when asked to, else the tests, and then fails
// the run if they left a file descriptor open or a child unreaped. The fd
// baseline is taken after a warm-up that makes the Go runtime open what it
// opens lazily (the netpoller's epoll fd and its wake-up fd).
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
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

// runChild is the helper process: "exit3" exits with status 3, "sleep"
// waits to be killed, "spin" burns 30ms of CPU time and exits 0.
func runChild(mode string) int {
	switch mode {
	case "exit3":
		return 3
	case "sleep":
		time.Sleep(time.Minute)
		return 1
	case "spin":
		for {
			var ru unix.Rusage
			if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
				return 2
			}
			if ru.Utime.Nano()+ru.Stime.Nano() >= int64(30*time.Millisecond) {
				return 0
			}
		}
	}
	fmt.Fprintf(os.Stderr, "unknown %s=%q\n", childEnv, mode)
	return 2
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

func diffFDs(before, after map[string]string) []string {
	var leaked []string
	for fd, target := range after {
		if before[fd] != target {
			leaked = append(leaked, fd+" -> "+target)
		}
	}
	sort.Strings(leaked)
	return leaked
}

func checkLeaks(before map[string]string) error {
	var errs []error
	after, err := openFDs()
	if err != nil {
		return err
	}
	if leaked := diffFDs(before, after); len(leaked) > 0 {
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
