package relay_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// pingPong writes n 64-byte messages into w, reading each back from r
// before the next, as a request-response peer would.
func pingPong(t *testing.T, w, r *os.File, n, from int) {
	t.Helper()
	got := make([]byte, 64)
	for i := range n {
		msg := fmt.Appendf(nil, "%063d\n", from+i)
		if _, err := w.Write(msg); err != nil {
			t.Fatalf("message %d: write: %v", from+i, err)
		}
		if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("message %d: read %q (%v), want %q", from+i, got, err, msg)
		}
	}
}

// TestSmallMessagePath: a link carrying 64-byte messages one at a time
// switches to the small path; a burst switches it back (to splice in auto
// mode) with every byte in order; small messages switch it again; EOF
// still ends it after the last byte.
func TestSmallMessagePath(t *testing.T) {
	for _, mode := range []relay.Mode{relay.ModeAuto, relay.ModeCopy} {
		t.Run(mode.String(), func(t *testing.T) {
			e := newEnv(t, relay.Options{Mode: mode})
			src, dst := newPair(t, "pipe", true, 0), newPair(t, "pipe", false, 0)
			k, done := startLink(t, e, src.relay, dst.relay)
			small := func() (on bool, st relay.LinkStats) {
				e.do(func() { on, st = relay.Small(k), k.Stats() })
				return on, st
			}

			pingPong(t, src.test, dst.test, 10, 0)
			if on, _ := small(); !on {
				t.Fatal("not on the small path after 10 messages of 64 bytes")
			}

			burst := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
			_, before := small()
			go src.test.Write(burst)
			got := make([]byte, len(burst))
			if _, err := io.ReadFull(dst.test, got); err != nil || sha256.Sum256(got) != sha256.Sum256(burst) {
				t.Fatalf("burst: %v, or the bytes differ", err)
			}
			if on, _ := small(); on {
				t.Error("still on the small path after a 1 MiB burst")
			}

			pingPong(t, src.test, dst.test, 10, 10)
			on, after := small()
			if !on {
				t.Fatal("not back on the small path after 10 more messages")
			}
			// Back to splice after the burst: the first small messages
			// after it were spliced again before the switch.
			if mode == relay.ModeAuto && after.SpliceBytes <= before.SpliceBytes {
				t.Errorf("auto mode: spliced %d bytes before the burst and %d after, want it splicing again",
					before.SpliceBytes, after.SpliceBytes)
			}
			src.test.Write([]byte("last"))
			src.test.Close()
			rest, err := io.ReadAll(dst.test)
			dst.test.Close()
			if err != nil || string(rest) != "last" {
				t.Fatalf("after EOF read %q, %v; want \"last\" then EOF", rest, err)
			}
			st := wait(t, done, "link")
			if want := uint64(20*64 + len(burst) + 4); !st.EOF || st.Bytes != want {
				t.Fatalf("stats: EOF %v, %d bytes; want EOF, %d", st.EOF, st.Bytes, want)
			}
		})
	}
}

// TestSmallMessageBackpressure: a small link whose sink stops reading
// leaves the small path (a level-triggered source with data, behind a
// full sink, would wake the loop without end) and holds at most its ring;
// nothing is lost once the sink reads again.
func TestSmallMessageBackpressure(t *testing.T) {
	const buffer = 16 << 10
	e := newEnv(t, relay.Options{Mode: relay.ModeAuto, BufferSize: buffer})
	src, dst := newPair(t, "pipe", true, 4096), newPair(t, "pipe", false, 4096)
	k, done := startLink(t, e, src.relay, dst.relay)
	pingPong(t, src.test, dst.test, 10, 0)
	var on bool
	e.do(func() { on = relay.Small(k) })
	if !on {
		t.Fatal("not on the small path after 10 messages of 64 bytes")
	}

	// Nobody reads dst now. Write 64-byte messages one at a time, each
	// once the relay has taken the last, until it takes no more: the
	// relay's reads stay small, so only the backpressure rule can end
	// the small path.
	var sent bytes.Buffer
	for i := 0; ; i++ {
		msg := fmt.Appendf(nil, "%063d\n", i)
		if _, err := src.test.Write(msg); err != nil {
			t.Fatalf("write: %v", err)
		}
		sent.Write(msg)
		if !takenWithin(t, src.test, 200*time.Millisecond) {
			break
		}
		if sent.Len() > 4096+buffer+64<<10 {
			t.Fatalf("relay took %d bytes with nobody reading", sent.Len())
		}
	}
	var st relay.LinkStats
	e.do(func() { on, st = relay.Small(k), k.Stats() })
	if on {
		t.Fatal("still on the small path behind a full sink")
	}
	const pinged = 10 * 64
	if held := uint64(pinged+sent.Len()) - st.Bytes; held > buffer+64 {
		t.Fatalf("link holds %d bytes, more than its %d-byte ring", held, buffer)
	}
	src.test.Close()
	got, err := io.ReadAll(dst.test)
	dst.test.Close()
	if err != nil || !bytes.Equal(got, sent.Bytes()) {
		t.Fatalf("read %d bytes (%v), want the %d sent", len(got), err, sent.Len())
	}
	if st := wait(t, done, "link"); !st.EOF || st.Bytes != uint64(pinged+sent.Len()) {
		t.Fatalf("stats: EOF %v, %d bytes, want %d", st.EOF, st.Bytes, pinged+sent.Len())
	}
}

// takenWithin reports whether the pipe behind f (either end) is empty
// within d: the relay read what was written.
func takenWithin(t *testing.T, f *os.File, d time.Duration) bool {
	t.Helper()
	rc, err := f.SyscallConn() // not f.Fd(): it would make the fd blocking
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Microsecond) {
		var n int
		var ierr error
		if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCINQ) }); err != nil {
			ierr = err
		}
		if ierr != nil {
			t.Fatalf("FIONREAD: %v", ierr)
		}
		if n == 0 {
			return true
		}
	}
	return false
}
