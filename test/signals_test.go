package test_test

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// descendants lists pid's children, their children and so on.
func descendants(pid int) []int {
	var all []int
	for _, k := range children(pid) {
		all = append(append(all, k), descendants(k)...)
	}
	return all
}

// startPipeloop starts pipeloop with args in a session of its own (no
// controlling terminal, whatever the test runs under), with core dumps off,
// and waits until it has want descendants (stages and their children).
func startPipeloop(t *testing.T, want int, args ...string) (*exec.Cmd, []int) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", `ulimit -c 0; exec "$0" "$@"`, bin}, args...)...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var kids []int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if kids = descendants(cmd.Process.Pid); len(kids) >= want {
			return cmd, kids // sh has exec'd pipeloop: these are its
		}
		if st, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat"); err != nil || zombie(st) {
			break
		}
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	t.Fatalf("pipeloop %q: %d descendants, want %d: %v (%v)", args, len(kids), want, kids, cmd.ProcessState)
	return nil, nil
}

// waitEnd waits for cmd to exit and returns its wait status.
func waitEnd(t *testing.T, cmd *exec.Cmd, within time.Duration) syscall.WaitStatus {
	t.Helper()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(within):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("pipeloop did not exit within %v", within)
	}
	return cmd.ProcessState.Sys().(syscall.WaitStatus)
}

// gone fails the test unless every pid has ended (or is a zombie that
// init has yet to reap) within a second.
func gone(t *testing.T, pids []int) {
	t.Helper()
	for _, pid := range pids {
		var st []byte
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			var err error
			if st, err = os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err != nil || zombie(st) {
				st = nil
				break
			}
		}
		if st != nil {
			t.Errorf("pid %d still running after pipeloop exited: %s", pid, st)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func zombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && bytes.HasPrefix(stat[i+1:], []byte(" Z"))
}

// TestPipeloopKilled: when pipeloop itself is killed with SIGKILL, its
// stages do not run on as orphans.
func TestPipeloopKilled(t *testing.T) {
	cmd, kids := startPipeloop(t, 2, "sleep 100", "sleep 100")
	cmd.Process.Kill()
	waitEnd(t, cmd, 10*time.Second)
	gone(t, kids)
}

