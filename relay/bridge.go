//go:build linux

package relay

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"syscall"

	"github.com/pipeloop/pipeloop/fdio"
	"golang.org/x/sys/unix"
)

// bridges turn Run's io.Reader and io.Writers into fds, as os/exec's
// Cmd.Start does, and keep the lists that make cleanup one deferred path:
//
//   - An *os.File or a syscall.Conn (a net.Conn) is used through a
//     duplicate of its fd, taken inside SyscallConn().Control — never
//     Fd(), which would switch the descriptor to blocking mode. The
//     relay never changes the duplicate's flags (see the package doc).
//   - Any other Reader or Writer gets a pipe: the loop (or the stages)
//     use one end, a goroutine copies between the other and it.
//
// Invariant: every fd opened here is on exactly one of loopFDs (the
// relay's from StartPipeline on: Owned endpoints), childFDs (closed once
// the stages hold their copies) or files (the goroutines' ends).
type bridges struct {
	out      io.Writer  // Stdout when it is copied from a pipe by a goroutine
	outPipe  int        // that pipe's write end, while open
	loopFDs  []int      // In/Out endpoints: closed here only if the start fails
	childFDs []int      // handed to the stages with Inherit: closed after the start
	files    []*os.File // the copying goroutines' ends
	copies   []func() error
	errs     chan error // one per copy
}

// config is Run's PipelineConfig with cfg's Stdin, Stdout and Stderr
// bridged. On error, failed closes what was opened.
func (b *bridges) config(cfg RunConfig) (pc PipelineConfig, err error) {
	pc = PipelineConfig{Stages: cfg.Stages, Env: cfg.Env, Dir: cfg.Dir, ProcessGroups: true}
	if cfg.Stdin != nil {
		if pc.In, err = b.input(cfg.Stdin); err != nil {
			return pc, err
		}
	}
	if cfg.Stdout != nil {
		if pc.Out, err = b.output(cfg.Stdout); err != nil {
			return pc, err
		}
	}
	if cfg.Stderr != nil {
		if pc.Stderr, err = b.stderr(cfg.Stderr); err != nil {
			return pc, err
		}
	}
	return pc, nil
}

// dupConn duplicates the fd behind c (close-on-exec) without changing
// its flags.
func dupConn(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, os.NewSyscallError("fcntl(F_DUPFD_CLOEXEC)", derr)
	}
	return fd, nil
}

// input makes src an endpoint for PipelineConfig.In.
func (b *bridges) input(src io.Reader) (*Endpoint, error) {
	if c, ok := src.(syscall.Conn); ok {
		fd, err := dupConn(c)
		if err != nil {
			return nil, fmt.Errorf("stdin: %w", err)
		}
		b.loopFDs = append(b.loopFDs, fd)
		return &Endpoint{FD: fd, Name: "stdin", Owned: true, Shared: true}, nil
	}
	r, w, err := fdio.Pipe(true, true)
	if err != nil {
		return nil, fmt.Errorf("stdin: %w", err)
	}
	b.loopFDs = append(b.loopFDs, r)
	f := os.NewFile(uintptr(w), "|stdin")
	b.files = append(b.files, f)
	b.copies = append(b.copies, func() error {
		_, err := io.Copy(f, src)
		f.Close()
		if errors.Is(err, unix.EPIPE) {
			err = nil // stage 1 stopped reading: not an error, as in os/exec
		}
		return err
	})
	return &Endpoint{FD: r, Name: "stdin", Owned: true, made: true}, nil
}

// output makes dst an endpoint for PipelineConfig.Out.
func (b *bridges) output(dst io.Writer) (*Endpoint, error) {
	if c, ok := dst.(syscall.Conn); ok {
		fd, err := dupConn(c)
		if err != nil {
			return nil, fmt.Errorf("stdout: %w", err)
		}
		b.loopFDs = append(b.loopFDs, fd)
		return &Endpoint{FD: fd, Name: "stdout", Owned: true, Shared: true}, nil
	}
	r, w, err := fdio.Pipe(true, true)
	if err != nil {
		return nil, fmt.Errorf("stdout: %w", err)
	}
	b.loopFDs = append(b.loopFDs, w)
	b.copyOut(r, "|stdout", dst)
	b.out, b.outPipe = dst, w
	return &Endpoint{FD: w, Name: "stdout", Owned: true, made: true}, nil
}

// stderr makes dst the stages' stderr. A blocking fd is handed on as it
// is; a nonblocking one (which a stage does not expect) or a plain Writer
// gets a pipe and a goroutine.
func (b *bridges) stderr(dst io.Writer) (Stdio, error) {
	if b.out != nil && sameWriter(dst, b.out) {
		return b.stderrIntoStdout()
	}
	if c, ok := dst.(syscall.Conn); ok {
		fd, err := dupConn(c)
		if err != nil {
			return Stdio{}, fmt.Errorf("stderr: %w", err)
		}
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err == nil && fl&unix.O_NONBLOCK == 0 {
			b.childFDs = append(b.childFDs, fd)
			return Inherit(fd), nil
		}
		unix.Close(fd)
	}
	r, w, err := fdio.Pipe(true, false)
	if err != nil {
		return Stdio{}, fmt.Errorf("stderr: %w", err)
	}
	b.childFDs = append(b.childFDs, w)
	b.copyOut(r, "|stderr", dst)
	return Inherit(w), nil
}

// stderrIntoStdout gives the stages a blocking description of Stdout's
// pipe as stderr, so that one goroutine writes the one Writer, as os/exec
// does for a Cmd whose Stdout and Stderr are the same Writer.
func (b *bridges) stderrIntoStdout() (Stdio, error) {
	path := fmt.Sprintf("/proc/self/fd/%d", b.outPipe)
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Stdio{}, fmt.Errorf("stderr: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	b.childFDs = append(b.childFDs, fd)
	return Inherit(fd), nil
}

// sameWriter reports whether a and b are the same Writer: equal
// interfaces of a comparable type.
func sameWriter(a, b io.Writer) bool {
	ta := reflect.TypeOf(a)
	return ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}

// copyOut queues a copy from the pipe's read end r to dst. A failing dst
// closes r, so the writer upstream gets EPIPE, as a shell pipeline's
// would.
func (b *bridges) copyOut(r int, name string, dst io.Writer) {
	f := os.NewFile(uintptr(r), name)
	b.files = append(b.files, f)
	b.copies = append(b.copies, func() error {
		_, err := io.Copy(dst, f)
		f.Close()
		return err
	})
}

// started closes the fds the stages now hold and starts the copies.
func (b *bridges) started() {
	for _, fd := range b.childFDs {
		unix.Close(fd)
	}
	b.childFDs = nil
	b.errs = make(chan error, len(b.copies))
	for _, c := range b.copies {
		go func() { b.errs <- c() }()
	}
}

// failed closes everything: the start failed, no copy runs.
func (b *bridges) failed() {
	for _, fd := range append(b.loopFDs, b.childFDs...) {
		unix.Close(fd)
	}
	for _, f := range b.files {
		f.Close()
	}
	*b = bridges{}
}

// wait waits for the copies (each ends once the pipeline has closed its
// end of the pipe, or the caller's Reader or Writer returns) and returns
// the first error.
func (b *bridges) wait() error {
	var first error
	for range b.copies {
		if err := <-b.errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
