package relay_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// TestEchoOneSocket: a link whose source and sink are the same socket fd
// echoes what the peer writes; the peer's shutdown(SHUT_WR) ends the link,
// which shuts the socket down for writing in turn, so the peer reads the
// echo to EOF. The fd is closed exactly once whichever endpoint owns it,
// and its one shared registration is dropped.
func TestEchoOneSocket(t *testing.T) {
	for _, owned := range []string{"src", "dst", "both", "neither"} {
		t.Run(owned, func(t *testing.T) {
			e := newEnv(t, relay.Options{BufferSize: 8 << 10})
			s, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			fd := s[0]
			if err := unix.SetNonblock(s[1], true); err != nil {
				t.Fatal(err)
			}
			peer := os.NewFile(uintptr(s[1]), "peer")
			defer peer.Close()

			var registered int
			e.do(func() { registered = e.l.Registered() })
			done := make(chan relay.LinkStats, 1)
			e.do(func() {
				_, err = e.r.NewLink(relay.LinkConfig{
					Src:    relay.Endpoint{FD: fd, Name: "echo in", Owned: owned == "src" || owned == "both"},
					Dst:    relay.Endpoint{FD: fd, Name: "echo out", Owned: owned == "dst" || owned == "both"},
					OnDone: func(k *relay.Link) { done <- k.Stats() },
				})
			})
			if err != nil {
				unix.Close(fd)
				t.Fatalf("NewLink: %v", err)
			}

			// More than the socket buffers and the ring hold, so the echo
			// only completes if the peer reads while it writes.
			payload := make([]byte, 4<<20)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range payload {
				payload[i] = byte(rng.Uint32())
			}
			wrote := make(chan error, 1)
			go func() {
				_, err := peer.Write(payload)
				if err == nil {
					err = shutdownWrite(peer)
				}
				wrote <- err
			}()
			got, err := io.ReadAll(peer)
			if err != nil {
				t.Fatalf("read echo: %v", err)
			}
			if err := wait(t, wrote, "peer write"); err != nil {
				t.Fatalf("peer write: %v", err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("echo differs: got %d bytes, want %d", len(got), len(payload))
			}
			st := wait(t, done, "link done")
			if st.Err != nil || !st.EOF || st.Bytes != uint64(len(payload)) {
				t.Errorf("stats: err %v, EOF %t, bytes %d; want nil, true, %d", st.Err, st.EOF, st.Bytes, len(payload))
			}
			var after int
			e.do(func() { after = e.l.Registered() })
			if after != registered {
				t.Errorf("registered fds: got %d after the link, want %d", after, registered)
			}
			if got, want := closed(fd), owned != "neither"; got != want {
				t.Errorf("fd closed: got %t, want %t", got, want)
			}
			if owned == "neither" {
				unix.Close(fd)
			}
		})
	}
}

// shutdownWrite sends EOF on a socket f keeps in the Go poller.
func shutdownWrite(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Shutdown(int(fd), unix.SHUT_WR) }); err != nil {
		return err
	}
	return serr
}
