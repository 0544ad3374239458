package loop_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/leakcheck"
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
	os.Exit(leakcheck.Main(m))
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
