package test_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// terminating are the signals whose default action ends a process and that
// come from outside (not a fault of the process itself). SIGPROF is left
// out: the Go runtime keeps it for its profiler; and SIGUSR1, which asks
// pipeloop for its stats (TestStatsSignal).
var terminating = []syscall.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGUSR2, unix.SIGALRM, unix.SIGTERM,
	unix.SIGSTKFLT, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGVTALRM, unix.SIGIO, unix.SIGPWR,
	syscall.Signal(36), syscall.Signal(64), // real-time signals (34 is the first libc leaves free)
}

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

// TestSignalsReachStages: every terminating signal sent to pipeloop
// reaches every stage and the stages' own children, as a shell pipeline
// dies of it, and pipeloop then dies of it too, so its parent sees the
// real "killed by signal" status.
func TestSignalsReachStages(t *testing.T) {
	for _, sig := range terminating {
		t.Run(unix.SignalName(sig)+"/"+strconv.Itoa(int(sig)), func(t *testing.T) {
			skipIfIgnored(t, sig)
			// sleep, cat, sh and its sleep.
			cmd, kids := startPipeloop(t, 4, "sleep 100", "cat", `sh -c "sleep 100; :"`)
			cmd.Process.Signal(sig)
			ws := waitEnd(t, cmd, 10*time.Second)
			if !ws.Signaled() || ws.Signal() != sig {
				t.Errorf("pipeloop ended with %v (exit %d), want killed by %v", cmd.ProcessState, ws.ExitStatus(), sig)
			}
			gone(t, kids)
		})
	}
}

// TestKillGrace: a stage that ignores SIGTERM gets SIGKILL --kill-grace
// later, with its children.
func TestKillGrace(t *testing.T) {
	cmd, kids := startPipeloop(t, 3, "--kill-grace", "100ms", "--shell", `trap "" TERM; sleep 100; :`, "cat")
	// Three descendants need not include stage 1's sleep (a process
	// between fork and exec counts too); only once sleep runs has the
	// shell set its trap. Before, a SIGTERM could beat the trap.
	for deadline := time.Now().Add(10 * time.Second); !running(kids, "sleep"); kids = descendants(cmd.Process.Pid) {
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("stage 1 never ran sleep: descendants %v", kids)
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	ws := waitEnd(t, cmd, 10*time.Second)
	if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("pipeloop ended with %v, want killed by SIGTERM", cmd.ProcessState)
	}
	if el := time.Since(start); el < 100*time.Millisecond {
		t.Errorf("stages ended %v after SIGTERM, before the grace", el)
	}
	gone(t, kids)
}

// TestPipeloopKilled: when pipeloop itself is killed with SIGKILL, its
// stages do not run on as orphans.
func TestPipeloopKilled(t *testing.T) {
	cmd, kids := startPipeloop(t, 2, "sleep 100", "sleep 100")
	cmd.Process.Kill()
	waitEnd(t, cmd, 10*time.Second)
	gone(t, kids)
}

// TestTerminalInterrupt: run from a terminal, a pipeline's stage 1 reads
// the terminal (no SIGTTIN), and ^C ends every stage and their children,
// once: a stage that traps SIGINT sees it once, not once from the terminal
// and again from pipeloop.
func TestTerminalInterrupt(t *testing.T) {
	skipIfIgnored(t, syscall.SIGINT)
	master, slave := openPTY(t, 80)
	// ^C flushes the terminal's queues, output not yet read included,
	// unless NOFLSH: keep everything, so the screen is complete however
	// late the reader below gets to run.
	tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(os.NewSyscallError("ioctl(TCGETS)", err))
	}
	tio.Lflag |= unix.NOFLSH
	if err := unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(os.NewSyscallError("ioctl(TCSETS)", err))
	}
	cmd := exec.Command(bin, "--shell",
		`read line; echo "got $line"; trap 'echo INT >&2; exit 3' INT; sleep 100; :`, "cat")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	chunks := make(chan []byte, 64)
	go func() { // ends with EIO once every slave fd is closed
		defer close(chunks)
		for {
			b := make([]byte, 4096)
			n, err := master.Read(b)
			if n > 0 {
				chunks <- b[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	var screen bytes.Buffer
	io.WriteString(master, "hello\n")
	// ^C once stage 1 has answered through cat and runs its sleep (exec'd:
	// a signal that comes between sh's fork and the exec is lost to sh's
	// own handler, which is the shell's race, not pipeloop's).
	var kids []int
	sleeping := func() bool {
		kids = descendants(cmd.Process.Pid)
		return running(kids, "sleep")
	}
	for deadline := time.After(10 * time.Second); !strings.Contains(screen.String(), "got hello") || !sleeping(); {
		select {
		case b := <-chunks:
			screen.Write(b)
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("stage 1 did not answer from the terminal: %q, descendants %v", screen.String(), kids)
		}
	}
	io.WriteString(master, "\x03")
	ws := waitEnd(t, cmd, 10*time.Second)
	for b := range chunks {
		screen.Write(b)
	}
	gone(t, kids)
	s := strings.ReplaceAll(screen.String(), "\r\n", "\n")
	if !strings.Contains(s, "got hello\n") {
		t.Errorf("terminal shows %q, want stage 1's \"got hello\"", s)
	}
	if n := strings.Count(s, "INT\n"); n != 1 {
		t.Errorf("stage 1 trapped SIGINT %d times, want 1; terminal: %q", n, s)
	}
	// cat died of ^C: the pipeline's status is 130, pipeloop's own
	// death by SIGINT.
	if !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("pipeloop ended with %v, want killed by SIGINT; terminal: %q", cmd.ProcessState, s)
	}
}

// TestTerminalSignalReachesChildren: run from a terminal, where the stages
// stay in pipeloop's process group, a SIGTERM sent to pipeloop alone still
// reaches the stages' own children. A shell leads the terminal's session,
// as in real life (the leader's exit would hang up the whole foreground
// group, which would hide the defect), and stays until the test closes
// the terminal.
func TestTerminalSignalReachesChildren(t *testing.T) {
	master, slave := openPTY(t, 80)
	cmd := exec.Command("sh", "-c", `"$0" "$@"; echo "status $?"; read x`, bin, `sh -c "sleep 100; :"`, "cat")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	defer func() {
		master.Close() // the shell's read ends
		waitEnd(t, cmd, 10*time.Second)
	}()
	var kids []int
	for deadline := time.Now().Add(10 * time.Second); !running(kids, "sleep"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("no sleep among the shell's descendants %v", kids)
		}
		kids = descendants(cmd.Process.Pid)
	}
	pipeloop := kids[0] // the shell's only child
	syscall.Kill(pipeloop, syscall.SIGTERM)
	var screen []byte
	master.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !bytes.Contains(screen, []byte("status ")) {
		b := make([]byte, 256)
		n, err := master.Read(b)
		screen = append(screen, b[:n]...)
		if err != nil {
			t.Fatalf("terminal: %v after %q", err, screen)
		}
	}
	gone(t, kids)
	if !bytes.Contains(screen, []byte("status 143")) {
		t.Errorf("terminal shows %q, want status 143", screen)
	}
}

// running reports whether one of pids runs the program named comm.
func running(pids []int, comm string) bool {
	for _, pid := range pids {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); string(b) == comm+"\n" {
			return true
		}
	}
	return false
}
