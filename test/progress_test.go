package test_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// paced is about 1.6 MiB over about 2 s: long enough for a few progress
// lines, in either mode.
func paced() *slowReader {
	return &slowReader{n: 50 * 32 << 10, size: 32 << 10, pause: 40 * time.Millisecond}
}

func pacedSum() string {
	h := sha256.Sum256(make([]byte, 50*32<<10))
	return hex.EncodeToString(h[:])
}

// TestProgressPipe: with stderr not a terminal, --progress prints plain
// lines, about one a second, then a final "done" line; stdout carries
// exactly the data.
func TestProgressPipe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		args  []string
		label string // in every line
	}{
		{"stdin", []string{"--progress"}, "pipeloop "},
		{"pipeline", []string{"--progress", "cat", "cat", "cat"}, "1→2 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, runOpts{stdin: paced(), timeout: 20 * time.Second}, tc.args...)
			if res.code != 0 || res.sum != pacedSum() {
				t.Fatalf("exit %d, output intact %v; stderr: %q", res.code, res.sum == pacedSum(), res.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(res.stderr, "\n"), "\n")
			t.Logf("stderr:\n%s", res.stderr)
			if strings.ContainsAny(res.stderr, "\r\x1b") {
				t.Errorf("terminal controls on a pipe: %q", res.stderr)
			}
			if len(lines) < 2 || len(lines) > int(res.wall/time.Second)+2 {
				t.Errorf("%d lines in %v, want one a second and a final one", len(lines), res.wall)
			}
			for _, l := range lines {
				if !strings.HasPrefix(l, "pipeloop ") || !strings.Contains(l, tc.label) || !strings.Contains(l, "/s") {
					t.Errorf("line %q: want elapsed time, %q and a rate", l, tc.label)
				}
			}
			last := lines[len(lines)-1]
			if !strings.Contains(last, " done ") || !strings.Contains(last, "1.64MB") {
				t.Errorf("final line %q: want done and the total, 1.64MB", last)
			}
			if tc.name == "pipeline" && !strings.Contains(last, "2→3 ") {
				t.Errorf("final line %q does not show link 2→3", last)
			}
		})
	}
}

// openPTY returns a pseudo-terminal's master and slave ends, the slave
// sized cols wide.
func openPTY(t *testing.T, cols uint16) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(os.NewSyscallError("ioctl(TIOCSPTLCK)", err))
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(os.NewSyscallError("ioctl(TIOCGPTN)", err))
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: cols}); err != nil {
		t.Fatal(os.NewSyscallError("ioctl(TIOCSWINSZ)", err))
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// runOnTerminal runs pipeloop with args, stdin and stdout as given and
// stderr a terminal cols wide, killed if it runs past limit, and returns
// what the terminal showed (logged) and the wall time. A failed run or a
// terminal that does not go quiet fails the test.
func runOnTerminal(t *testing.T, cols uint16, stdin io.Reader, stdout io.Writer, limit time.Duration, args ...string) (string, time.Duration) {
	t.Helper()
	master, slave := openPTY(t, cols)
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() { io.Copy(&screen, master); close(read) }() // ends with EIO once every slave fd is closed
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, slave
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	timer := time.AfterFunc(limit, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	wall := time.Since(start)
	if err != nil {
		t.Fatalf("pipeloop: %v", err)
	}
	select {
	case <-read:
	case <-time.After(5 * time.Second):
		t.Fatal("terminal output did not end")
	}
	t.Logf("terminal (%v): %q", wall, screen.String())
	return screen.String(), wall
}

// TestProgressTerminal: with stderr a terminal, --progress redraws one
// line in place several times a second, cut to the terminal's width, and
// ends it with a newline; stdout (a pipe) carries exactly the data.
func TestProgressTerminal(t *testing.T) {
	t.Parallel()
	const cols = 60
	var out bytes.Buffer
	s, wall := runOnTerminal(t, cols, paced(), &out, 20*time.Second, "--progress", "cat", "cat", "cat")
	if h := sha256.Sum256(out.Bytes()); hex.EncodeToString(h[:]) != pacedSum() {
		t.Errorf("stdout is not the data (%d bytes)", out.Len())
	}
	if !strings.HasSuffix(s, "\r\n") { // the tty turns \n into \r\n
		t.Errorf("the final line does not end with a newline: %q", s)
	}
	if strings.Count(s, "\n") != 1 {
		t.Errorf("%d newlines, want one: the line should be redrawn in place", strings.Count(s, "\n"))
	}
	draws := strings.Split(strings.TrimSuffix(s, "\r\n"), "\r")
	var lines []string
	for _, d := range draws {
		if d != "" {
			lines = append(lines, d)
		}
	}
	if min := int(wall / time.Second * 2); len(lines) < min {
		t.Errorf("%d redraws in %v, want at least %d (a few a second)", len(lines), wall, min)
	}
	for _, l := range lines {
		text, ok := strings.CutSuffix(l, "\x1b[K")
		if !ok {
			t.Errorf("redraw %q does not clear the rest of the line", l)
		}
		if n := utf8.RuneCountInString(text); n >= cols {
			t.Errorf("redraw %q is %d wide on a %d-column terminal: it would wrap", text, n, cols)
		}
		if !strings.HasPrefix(text, "pipeloop ") {
			t.Errorf("redraw %q", text)
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, " done ") {
		t.Errorf("last redraw %q: want done", last)
	}
}
