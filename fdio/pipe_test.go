package fdio_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pipeloop/pipeloop/internal/testfd"

	"github.com/pipeloop/pipeloop/fdio"
	"golang.org/x/sys/unix"
)

func TestPipeFlags(t *testing.T) {
	for _, tc := range []struct{ nbR, nbW bool }{
		{false, false}, {true, false}, {false, true}, {true, true},
	} {
		t.Run(fmt.Sprintf("r=%v/w=%v", tc.nbR, tc.nbW), func(t *testing.T) {
			r, w := testfd.Pipe(t, tc.nbR, tc.nbW)
			for _, end := range []struct {
				name string
				fd   int
				nb   bool
			}{{"read end", r, tc.nbR}, {"write end", w, tc.nbW}} {
				got, err := fdio.IsNonblock(end.fd)
				if err != nil {
					t.Fatal(err)
				}
				if got != end.nb {
					t.Errorf("%s: O_NONBLOCK = %v, want %v", end.name, got, end.nb)
				}
				fl, err := unix.FcntlInt(uintptr(end.fd), unix.F_GETFD, 0)
				if err != nil {
					t.Fatal(err)
				}
				if fl&unix.FD_CLOEXEC == 0 {
					t.Errorf("%s: FD_CLOEXEC not set", end.name)
				}
			}
		})
	}
}

func TestSetNonblock(t *testing.T) {
	r, _ := testfd.Pipe(t, false, false)
	for _, want := range []bool{true, false, true} {
		if err := fdio.SetNonblock(r, want); err != nil {
			t.Fatal(err)
		}
		if got, err := fdio.IsNonblock(r); err != nil || got != want {
			t.Errorf("IsNonblock = %v, %v after SetNonblock(%v)", got, err, want)
		}
	}
	if err := fdio.SetNonblock(-1, true); !errors.Is(err, unix.EBADF) {
		t.Errorf("SetNonblock(-1) = %v, want EBADF", err)
	}
	if _, err := fdio.IsNonblock(-1); !errors.Is(err, unix.EBADF) {
		t.Errorf("IsNonblock(-1) = %v, want EBADF", err)
	}
}

func TestPipeSize(t *testing.T) {
	for _, tc := range []struct{ ask, want int }{
		{fdio.PipeBuf, 4096},
		{fdio.PipeBuf + 1, 8192},
		{1, 4096}, // the kernel never goes below one page
		{65536, 65536},
		{100000, 131072},
	} {
		t.Run(fmt.Sprint(tc.ask), func(t *testing.T) {
			r, w := testfd.Pipe(t, true, true)
			got, err := fdio.SetPipeSize(w, tc.ask)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("SetPipeSize(%d) = %d, want %d", tc.ask, got, tc.want)
			}
			for _, fd := range []int{r, w} { // one pipe, seen from both ends
				if got, err := fdio.PipeSize(fd); err != nil || got != tc.want {
					t.Errorf("PipeSize(%d) = %d, %v; want %d", fd, got, err, tc.want)
				}
			}
		})
	}
	t.Run("not a pipe", func(t *testing.T) {
		a, b := testfd.Socketpair(t)
		_ = b
		_, err := fdio.SetPipeSize(a, 65536)
		testfd.CheckSyscallError(t, err, "fcntl(F_SETPIPE_SZ)", unix.EBADF)
		_, err = fdio.PipeSize(a)
		testfd.CheckSyscallError(t, err, "fcntl(F_GETPIPE_SZ)", unix.EBADF)
	})
	t.Run("shrink below contents", func(t *testing.T) {
		_, w := testfd.Pipe(t, true, true)
		testfd.WriteAll(t, w, make([]byte, 3*fdio.PipeBuf))
		_, err := fdio.SetPipeSize(w, fdio.PipeBuf)
		testfd.CheckSyscallError(t, err, "fcntl(F_SETPIPE_SZ)", unix.EBUSY)
	})
}

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		fd   func(t *testing.T) int
		want fdio.Kind
	}{
		{"pipe read end", func(t *testing.T) int { r, _ := testfd.Pipe(t, true, true); return r }, fdio.KindPipe},
		{"pipe write end", func(t *testing.T) int { _, w := testfd.Pipe(t, true, true); return w }, fdio.KindPipe},
		{"fifo", func(t *testing.T) int {
			path := filepath.Join(t.TempDir(), "fifo")
			if err := unix.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			return testfd.Open(t, path, unix.O_RDWR)
		}, fdio.KindPipe},
		{"socketpair", func(t *testing.T) int { a, _ := testfd.Socketpair(t); return a }, fdio.KindSocket},
		{"regular file", func(t *testing.T) int {
			return testfd.Open(t, filepath.Join(t.TempDir(), "f"), unix.O_RDWR|unix.O_CREAT)
		}, fdio.KindFile},
		{"directory", func(t *testing.T) int { return testfd.Open(t, t.TempDir(), unix.O_RDONLY) }, fdio.KindOther},
		{"/dev/null", func(t *testing.T) int { return testfd.Open(t, os.DevNull, unix.O_RDWR) }, fdio.KindOther},
		{"pty", func(t *testing.T) int {
			fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Skipf("no pty here: %v", err)
			}
			testfd.CloseAtEnd(t, &fd)
			return fd
		}, fdio.KindTTY},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fdio.KindOf(tc.fd(t))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("KindOf = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("bad fd", func(t *testing.T) {
		_, err := fdio.KindOf(-1)
		testfd.CheckSyscallError(t, err, "fstat", unix.EBADF)
	})
}

func TestKindString(t *testing.T) {
	for k, want := range map[fdio.Kind]string{
		fdio.KindOther: "device", fdio.KindPipe: "pipe", fdio.KindSocket: "socket",
		fdio.KindFile: "file", fdio.KindTTY: "tty", fdio.Kind(200): "unknown",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
