package relay_test

import (
	"bytes"
	"io"
	"os"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// isNonblock reports whether fd's open file description is O_NONBLOCK.
func isNonblock(t *testing.T, fd int) bool {
	t.Helper()
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fl&unix.O_NONBLOCK != 0
}

// TestSharedDescriptionsUntouched: a link between a blocking pipe and a
// blocking socket (an inherited stdin and stdout, which other processes
// share) never sets O_NONBLOCK on their descriptions, yet never blocks the
// loop: bytes arrive exactly in every mode, while the loop keeps serving
// other work.
func TestSharedDescriptionsUntouched(t *testing.T) {
	for _, mode := range []relay.Mode{relay.ModeAuto, relay.ModeCopy} {
		t.Run(mode.String(), func(t *testing.T) {
			e := newEnv(t, relay.Options{Mode: mode})
			var p [2]int
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			s, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			in, out := os.NewFile(uintptr(p[1]), "in"), os.NewFile(uintptr(s[1]), "out")
			defer in.Close()
			defer out.Close()
			_, done := startLink(t, e, p[0], s[0])
			got := make(chan []byte)
			go func() { b, _ := io.ReadAll(out); got <- b }()

			payload := bytes.Repeat([]byte("shared "), 100000)
			if _, err := in.Write(payload[:1000]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // the link has drained the pipe: both ends idle
			for _, fd := range []int{p[0], s[0]} {
				if isNonblock(t, fd) {
					t.Errorf("fd %d: the relay set O_NONBLOCK on a description it may share", fd)
				}
			}
			e.do(func() {}) // the loop is not stuck in a blocking read
			if _, err := in.Write(payload[1000:]); err != nil {
				t.Fatal(err)
			}
			in.Close()
			st := wait(t, done, "link")
			if b := wait(t, got, "reader"); !bytes.Equal(b, payload) {
				t.Fatalf("got %d bytes, want %d, exactly", len(b), len(payload))
			}
			if !st.EOF || st.Err != nil {
				t.Errorf("link ended eof=%v err=%v", st.EOF, st.Err)
			}
		})
	}
}

// TestSharedSocketClosedByLastLink: one owned socket is both a pipeline's
// In and Out. The client's EOF ends the In link long before the reply goes
// out; the socket must stay open for the Out link — if it were closed
// then, a connection accepted meanwhile would get its number, and the
// reply would go to that other client.
func TestSharedSocketClosedByLastLink(t *testing.T) {
	e := newEnv(t, relay.Options{})
	a, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	client := os.NewFile(uintptr(a[1]), "client A")
	defer client.Close()
	var other [2]int // the next connection, made once In is done
	other[0], other[1] = -1, -1
	exited := make(chan int, 1)
	var p *relay.Pipeline
	e.do(func() {
		sock := relay.Endpoint{FD: a[0], Name: "client A", Owned: true}
		p, err = e.r.StartPipeline(relay.PipelineConfig{
			Stages: []relay.Stage{{Args: []string{"sh", "-c", "cat >/dev/null; sleep 0.3; echo reply"}}},
			In:     &sock, Out: &sock, Stderr: relay.Inherit(2),
			OnLinkDone: func(p *relay.Pipeline, k *relay.Link) {
				if k == p.InLink() {
					s, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
					if err != nil {
						t.Error(err)
						return
					}
					other = [2]int{s[0], s[1]}
				}
			},
			OnExit: func(p *relay.Pipeline) { exited <- p.ExitCode() },
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	unix.Shutdown(a[1], unix.SHUT_WR)
	reply, err := io.ReadAll(client)
	if code := wait(t, exited, "pipeline"); code != 0 {
		t.Errorf("exit %d", code)
	}
	var errs []error
	e.do(func() {
		for _, k := range []*relay.Link{p.InLink(), p.OutLink()} {
			if err := k.Stats().Err; err != nil {
				errs = append(errs, err)
			}
		}
	})
	if len(errs) > 0 {
		t.Errorf("link errors: %v", errs)
	}
	if string(reply) != "reply\n" || err != nil {
		t.Errorf("client A got %q (%v), want the reply", reply, err)
	}
	if other[0] < 0 {
		t.Fatal("the second connection was never made")
	}
	defer unix.Close(other[0])
	defer unix.Close(other[1])
	buf := make([]byte, 64)
	if n, _ := unix.Read(other[1], buf); n > 0 {
		t.Errorf("the other connection (fd %d) got client A's bytes: %q", other[0], buf[:n])
	}
	if !closed(a[0]) {
		t.Errorf("the owned socket is still open after the pipeline ended")
	}
}
