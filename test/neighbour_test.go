package test_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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

// The tests here check that pipeloop leaves alone the open file
// descriptions it shares with other processes: O_NONBLOCK belongs to the
// description, so setting it on an inherited stdin or stdout makes every
// other process using it fail with EAGAIN.

// blockingPipe returns a pipe whose ends are blocking, as a shell makes
// them (os.Pipe's are nonblocking until handed to a child).
func blockingPipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(os.NewSyscallError("pipe2", err))
	}
	r, w = os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1")
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// checkBlocking fails the test if f's open file description is nonblocking.
func checkBlocking(t *testing.T, f *os.File, when string) {
	t.Helper()
	c, err := f.SyscallConn() // not f.Fd(), which would make it blocking
	if err != nil {
		t.Fatal(err)
	}
	var fl int
	c.Control(func(fd uintptr) { fl, err = unix.FcntlInt(fd, unix.F_GETFL, 0) })
	if err != nil {
		t.Fatal(os.NewSyscallError("fcntl(F_GETFL)", err))
	}
	if fl&unix.O_NONBLOCK != 0 {
		t.Errorf("%s: the shared description of %s is O_NONBLOCK", when, f.Name())
	}
}

// start starts cmd with the race detector's exit sleep off and reaps it at
// the end of the test.
func start(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
}

// TestSharedStdoutSecondWriter: { pipeloop < file & head -c N /dev/zero; }
// | slow-reader. head shares pipeloop's stdout description and must not see
// EAGAIN when the pipe is full; every byte of both arrives.
func TestSharedStdoutSecondWriter(t *testing.T) {
	t.Parallel()
	const n, m = 4 << 20, 4000000
	data, _ := payload(t, n)
	r, w := blockingPipe(t)
	pl := exec.Command(bin)
	pl.Stdin, pl.Stdout = data, w
	var plErr, headErr bytes.Buffer
	pl.Stderr = &plErr
	head := exec.Command("head", "-c", "4000000", "/dev/zero")
	head.Stdout, head.Stderr = w, &headErr
	start(t, pl)
	time.Sleep(200 * time.Millisecond) // pipeloop fills the pipe first
	start(t, head)
	time.Sleep(300 * time.Millisecond) // head finds it full
	checkBlocking(t, w, "while pipeloop runs")
	w.Close()
	got, err := io.Copy(io.Discard, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := head.Wait(); err != nil {
		t.Errorf("head: %v: %s", err, headErr.String())
	}
	if err := pl.Wait(); err != nil {
		t.Errorf("pipeloop: %v: %s", err, plErr.String())
	}
	if got != n+m {
		t.Errorf("reader got %d bytes, want %d (pipeloop's %d and head's %d)", got, n+m, n, m)
	}
}

// TestSharedStdinSecondReader: slow-writer | { pipeloop > o1 & cat > o2; }.
// cat shares pipeloop's stdin description and must not see EAGAIN when the
// pipe is empty; between them they get every byte.
func TestSharedStdinSecondReader(t *testing.T) {
	t.Parallel()
	r, w := blockingPipe(t)
	dir := t.TempDir()
	o1, err := os.Create(dir + "/o1")
	if err != nil {
		t.Fatal(err)
	}
	defer o1.Close()
	var plErr, catErr bytes.Buffer
	pl := exec.Command(bin)
	pl.Stdin, pl.Stdout, pl.Stderr = r, o1, &plErr
	cat := exec.Command("cat")
	var catOut countWriter
	cat.Stdin, cat.Stdout, cat.Stderr = r, &catOut, &catErr
	start(t, pl)
	start(t, cat)
	r.Close()
	const chunk, chunks = 100000, 20
	for range chunks { // slowly, so both readers find the pipe empty
		if _, err := w.Write(bytes.Repeat([]byte{'x'}, chunk)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.Close()
	if err := cat.Wait(); err != nil {
		t.Errorf("cat: %v: %s", err, catErr.String())
	}
	if err := pl.Wait(); err != nil {
		t.Errorf("pipeloop: %v: %s", err, plErr.String())
	}
	st, err := o1.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Size() + int64(catOut); got != chunk*chunks {
		t.Errorf("pipeloop %d + cat %d bytes = %d, want %d", st.Size(), catOut, got, chunk*chunks)
	}
}

// TestSharedTerminalAfterKill: pipeloop writing to a terminal leaves the
// terminal's description blocking while it runs and after kill -9, when
// it can restore nothing.
func TestSharedTerminalAfterKill(t *testing.T) {
	t.Parallel()
	master, slave := openPTY(t, 80)
	go io.Copy(io.Discard, master)
	r, w := blockingPipe(t)
	pl := exec.Command(bin)
	pl.Stdin, pl.Stdout = r, slave
	start(t, pl)
	if _, err := w.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	checkBlocking(t, slave, "while pipeloop runs")
	pl.Process.Kill()
	pl.Wait()
	checkBlocking(t, slave, "after kill -9")
}

// TestProgressSharedStderr: (pipeloop --progress < file) 2>&1 | (sleep; cat):
// stderr shares stdout's description, and the progress lines written while
// the reader sleeps must arrive, not fail with EAGAIN.
func TestProgressSharedStderr(t *testing.T) {
	t.Parallel()
	data, err := os.Create(t.TempDir() + "/zeros")
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	if _, err := data.Write(make([]byte, 8<<20)); err != nil {
		t.Fatal(err)
	}
	if _, err := data.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	r, w := blockingPipe(t)
	pl := exec.Command(bin, "--progress")
	pl.Stdin, pl.Stdout, pl.Stderr = data, w, w
	start(t, pl)
	w.Close()
	time.Sleep(2500 * time.Millisecond) // the reader sleeps; pipeloop reports each second
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := pl.Wait(); err != nil {
		t.Errorf("pipeloop: %v", err)
	}
	text := string(bytes.ReplaceAll(out, []byte{0}, nil))
	if n := strings.Count(text, "pipeloop 0:0"); n < 3 {
		t.Errorf("%d progress lines arrived, want at least 3 (two while blocked, then done): %q", n, text)
	}
}

// TestCtrlCAfterStopAndFg: in an interactive bash on a terminal, pipeloop
// reading the terminal is stopped with ^Z, resumed with fg (bash resets
// the terminal's description to blocking as it takes it back), and ^C
// must still end it at once.
func TestCtrlCAfterStopAndFg(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	tty := startShell(t)
	tty.send(bin + "\n")
	time.Sleep(500 * time.Millisecond)
	tty.send("\x1a") // ^Z
	tty.waitFor("Stopped", 5*time.Second)
	tty.send("fg\n")
	time.Sleep(500 * time.Millisecond)
	tty.send("hello\n")
	tty.waitFor("hello\r\nhello", 5*time.Second) // the echo, then pipeloop's copy
	time.Sleep(200 * time.Millisecond)
	tty.send("\x03") // ^C
	time.Sleep(500 * time.Millisecond)
	tty.send("echo EXIT=$?\n") // typed to pipeloop if ^C did not end it
	tty.waitFor("EXIT=130", 5*time.Second)
}

// shell is an interactive bash on a pseudo-terminal.
type shell struct {
	t      *testing.T
	master *os.File
	mu     chan struct{} // guards screen
	screen bytes.Buffer
}

// startShell starts bash -i as a session leader on a new terminal, with
// job control, and ends it when the test ends.
func startShell(t *testing.T) *shell {
	t.Helper()
	master, slave := openPTY(t, 200)
	sh := exec.Command("bash", "--norc", "--noprofile", "-i")
	sh.Stdin, sh.Stdout, sh.Stderr = slave, slave, slave
	sh.Env = append(os.Environ(), "PS1=$ ", "GORACE=atexit_sleep_ms=0")
	sh.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	s := &shell{t: t, master: master, mu: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			s.mu <- struct{}{}
			s.screen.Write(buf[:n])
			<-s.mu
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		// Whatever still runs on the terminal (a hung job) goes too.
		killSession(sh.Process.Pid)
		sh.Wait()
		master.Close()
		<-done
	})
	return s
}

// killSession sends SIGKILL to every process of session sid.
func killSession(sid int) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session …; comm may hold spaces.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 3 && f[3] == strconv.Itoa(sid) {
			pid, _ := strconv.Atoi(e.Name())
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func (s *shell) send(keys string) {
	s.t.Helper()
	if _, err := s.master.WriteString(keys); err != nil {
		s.t.Fatal(err)
	}
}

// waitFor waits until the terminal has shown text, and fails the test
// (printing the screen) if it does not within d.
func (s *shell) waitFor(text string, d time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for {
		s.mu <- struct{}{}
		screen := s.screen.String()
		<-s.mu
		if strings.Contains(screen, text) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the terminal did not show %q within %v; screen:\n%q", text, d, screen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSharedPipesOfAnotherUser: pipeloop run as another user (uid 65534)
// between pipes root made cannot reopen them (their inodes are root's),
// and must still leave their descriptions blocking — each call is
// nonblocking on its own instead (never splice or vmsplice, which would
// clear the description's FMODE_NOWAIT) — and relay every byte.
func TestSharedPipesOfAnotherUser(t *testing.T) {
	t.Parallel()
	as := nobody(t)
	for _, mode := range []string{"auto", "copy"} {
		t.Run(mode, func(t *testing.T) {
			data, sum := payload(t, 8<<20)
			r, w := blockingPipe(t)
			in, feed := blockingPipe(t)
			pl := exec.Command(as[0], append(as[1:], nobodyBin(t), "--mode", mode)...)
			var plErr bytes.Buffer
			pl.Stdin, pl.Stdout, pl.Stderr = in, w, &plErr
			start(t, pl)
			in.Close()
			go func() { io.Copy(feed, data); feed.Close() }()
			time.Sleep(200 * time.Millisecond)
			checkBlocking(t, w, "while pipeloop runs")
			checkBlocking(t, feed, "while pipeloop runs")
			w.Close()
			h := sha256.New()
			if _, err := io.Copy(h, r); err != nil {
				t.Fatal(err)
			}
			if err := pl.Wait(); err != nil {
				t.Fatalf("pipeloop: %v: %s", err, plErr.String())
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != sum {
				t.Errorf("the bytes differ")
			}
		})
	}
}

// TestPtyMasterStdout: a pty master is a terminal pipeloop must not reopen
// (a new open of /dev/ptmx is a new pty): bytes written to it reach the
// slave, as with cat.
func TestPtyMasterStdout(t *testing.T) {
	t.Parallel()
	master, slave := openPTY(t, 80)
	r, w := blockingPipe(t)
	pl := exec.Command(bin)
	var plErr bytes.Buffer
	pl.Stdin, pl.Stdout, pl.Stderr = r, master, &plErr
	start(t, pl)
	w.WriteString("to the slave\n")
	w.Close()
	if err := pl.Wait(); err != nil {
		t.Fatalf("pipeloop: %v: %s", err, plErr.String())
	}
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 64)
		n, _ := slave.Read(buf)
		got <- string(buf[:n])
	}()
	select {
	case s := <-got:
		if s != "to the slave\n" {
			t.Errorf("the slave read %q", s)
		}
	case <-time.After(5 * time.Second):
		slave.Close() // ends the read
		t.Error("nothing reached the slave: pipeloop wrote to another pty")
	}
	checkBlocking(t, master, "after pipeloop")
}

// TestForeignTerminal: pipeloop run as uid 65534 writing to root's
// terminal cannot reopen it; it still writes every byte and leaves the
// terminal's description blocking when done.
func TestForeignTerminal(t *testing.T) {
	t.Parallel()
	as := nobody(t)
	master, slave := openPTY(t, 80)
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() { io.Copy(&screen, master); close(read) }()
	pl := exec.Command(as[0], append(as[1:], nobodyBin(t))...)
	var plErr bytes.Buffer
	pl.Stdin, pl.Stdout, pl.Stderr = strings.NewReader("hello\n"), slave, &plErr
	start(t, pl)
	if err := pl.Wait(); err != nil {
		t.Fatalf("pipeloop: %v: %s", err, plErr.String())
	}
	checkBlocking(t, slave, "after pipeloop")
	slave.Close()
	select {
	case <-read:
	case <-time.After(5 * time.Second):
		t.Fatal("the terminal's output did not end")
	}
	if screen.String() != "hello\r\n" {
		t.Errorf("the terminal showed %q", screen.String())
	}
}

// TestSplicedPipeOfAnotherUser: the same, when the shared pipe has been
// spliced into before, which makes the kernel refuse RWF_NOWAIT on its
// description (EOPNOTSUPP): pipeloop must splice into it instead.
func TestSplicedPipeOfAnotherUser(t *testing.T) {
	t.Parallel()
	as := nobody(t)
	data, _ := payload(t, 4<<20)
	r, w := blockingPipe(t)
	pr, pw := blockingPipe(t)
	pw.WriteString("pre:")
	if _, err := unix.Splice(int(pr.Fd()), nil, int(w.Fd()), nil, 4, 0); err != nil {
		t.Fatal(os.NewSyscallError("splice", err))
	}
	pl := exec.Command(as[0], append(as[1:], nobodyBin(t))...)
	var plErr bytes.Buffer
	pl.Stdin, pl.Stdout, pl.Stderr = data, w, &plErr
	start(t, pl)
	w.Close()
	got := sha256.New()
	if _, err := io.Copy(got, r); err != nil {
		t.Fatal(err)
	}
	if err := pl.Wait(); err != nil {
		t.Fatalf("pipeloop: %v: %s", err, plErr.String())
	}
	want := sha256.New()
	want.Write([]byte("pre:"))
	io.Copy(want, reopen(t, data))
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Error("the bytes differ")
	}
}

// TestNonblockingSharedTerminal: pipeloop reading a terminal whose shared
// description was already O_NONBLOCK when it started (another program
// left it so) must not trust that flag: when the shell clears it (as bash
// does on fg) pipeloop must still not block in read, and SIGINT must end
// it at once.
func TestNonblockingSharedTerminal(t *testing.T) {
	t.Parallel()
	master, slave := openPTY(t, 80)
	go io.Copy(io.Discard, master)
	_, out := blockingPipe(t)
	var tty, sink uintptr
	setNonblock := func(on bool) {
		c, err := slave.SyscallConn() // never Fd(): it would make it blocking
		if err != nil {
			t.Fatal(err)
		}
		c.Control(func(fd uintptr) { tty, err = fd, unix.SetNonblock(int(fd), on) })
		if err != nil {
			t.Fatal(err)
		}
	}
	setNonblock(true)
	oc, _ := out.SyscallConn()
	oc.Control(func(fd uintptr) { sink = fd })
	// syscall.StartProcess, not os/exec: os/exec calls Fd() on its files.
	pid, err := syscall.ForkExec(bin, []string{bin}, &syscall.ProcAttr{
		Env: append(os.Environ(), "GORACE=atexit_sleep_ms=0"), Files: []uintptr{tty, sink, 2}})
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
		close(exited)
	}()
	defer func() {
		syscall.Kill(pid, syscall.SIGKILL)
		<-exited
	}()
	time.Sleep(300 * time.Millisecond)
	setNonblock(false) // the shell takes the terminal back
	master.WriteString("typed\n")
	time.Sleep(300 * time.Millisecond)
	syscall.Kill(pid, syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("pipeloop ignored SIGINT: its loop blocked reading the terminal")
	}
}

// TestForeignPipeFallsBack: another user's pipe whose description refuses
// RWF_NOWAIT once spliced — here by pipeloop's own splice into an append-
// mode file, which fails with EINVAL and falls back to copying — must
// still deliver every byte, as cat does (the shared description gets
// O_NONBLOCK as a last resort, cleared when done).
func TestForeignPipeFallsBack(t *testing.T) {
	t.Parallel()
	as := nobody(t)
	data, sum := payload(t, 1<<20)
	out, err := os.OpenFile(t.TempDir()+"/out", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	in, feed := blockingPipe(t)
	pl := exec.Command(as[0], append(as[1:], nobodyBin(t))...)
	var plErr bytes.Buffer
	pl.Stdin, pl.Stdout, pl.Stderr = in, out, &plErr
	start(t, pl)
	in.Close()
	go func() { io.Copy(feed, data); feed.Close() }()
	if err := pl.Wait(); err != nil {
		t.Fatalf("pipeloop: %v: %s", err, plErr.String())
	}
	got, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	if h := sha256.Sum256(got); hex.EncodeToString(h[:]) != sum {
		t.Errorf("the file holds %d bytes, not the %d sent", len(got), 1<<20)
	}
}
