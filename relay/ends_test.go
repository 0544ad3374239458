package relay_test

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/fdio"
	"golang.org/x/sys/unix"
)

// pair is a relay's end (a raw fd the relay owns) and the test's end of
// the same pipe or socket, wrapped for the Go poller.
type pair struct {
	kind  string        // "pipe" or "socket"
	relay int           // the relay's end
	test  *os.File      // the test's end, nonblocking, in the Go netpoller
	moved *atomic.Int64 // bytes the test's end has moved so far
}

// newPair makes a pipe or a socketpair. forRead says the relay reads it
// (the test writes). size is the pipe's capacity or the socket buffer
// size; 0 keeps the default.
func newPair(t testing.TB, kind string, forRead bool, size int) pair {
	t.Helper()
	var relayFD, testFD int
	switch kind {
	case "pipe":
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		relayFD, testFD = p[1], p[0]
		if forRead {
			relayFD, testFD = p[0], p[1]
		}
		if size > 0 {
			if _, err := fdio.SetPipeSize(p[0], size); err != nil {
				t.Fatal(err)
			}
		}
	case "socket":
		s, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		relayFD, testFD = s[0], s[1]
		if size > 0 {
			for _, fd := range s {
				unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, size)
				unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, size)
			}
		}
	default:
		t.Fatalf("unknown kind %q", kind)
	}
	// Both ends are the test's own, shared with no other process: the
	// relay's is nonblocking, as a daemon's sockets and pipes are, so the
	// fault injector sees the relay's calls on it. Blocking, possibly
	// shared fds have their own tests (watch_test.go).
	for _, fd := range []int{testFD, relayFD} {
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
	return pair{kind: kind, relay: relayFD, test: os.NewFile(uintptr(testFD), kind), moved: new(atomic.Int64)}
}

// pacing is how a goroutine at the test's end moves bytes: chunks of
// 1..chunk bytes, and after each, with probability pauseP, a pause of up
// to pause.
type pacing struct {
	chunk  int
	pauseP float64
	pause  time.Duration
}

// bound keeps a run of size bytes to some 20000 system calls
// and some 30 ms of pauses.
func (p *pacing) bound(size int) {
	for size/p.chunk > 20000 {
		p.chunk *= 16
	}
	// A sleep lasts at least some 100 µs however short it is asked to be.
	for p.pauseP > 0 && float64(size)/float64(p.chunk)*p.pauseP*float64(max(p.pause, 100*time.Microsecond)) > float64(30*time.Millisecond) {
		p.chunk *= 4
	}
}

func (p pacing) next(rng *rand.Rand, left int) int {
	return min(left, 1+rng.IntN(p.chunk))
}

func (p pacing) wait(rng *rand.Rand) {
	if p.pauseP > 0 && rng.Float64() < p.pauseP {
		time.Sleep(time.Duration(rng.Int64N(int64(p.pause) + 1)))
	}
}

// feed writes payload to f at the given pace, then closes f. It returns
// how many bytes the kernel accepted and the error that stopped it early
// (EPIPE or ECONNRESET once the relay closed its end).
func feed(f *os.File, payload []byte, pace pacing, rng *rand.Rand, moved *atomic.Int64) (int, error) {
	defer f.Close()
	n := 0
	for n < len(payload) {
		m, err := f.Write(payload[n : n+pace.next(rng, len(payload)-n)])
		n += m
		moved.Add(int64(m))
		if err != nil {
			return n, err
		}
		pace.wait(rng)
	}
	return n, nil
}

// drain reads f to EOF at the given pace, or until it has quitAfter bytes
// (when quitAfter >= 0), then closes f.
func drain(f *os.File, pace pacing, rng *rand.Rand, quitAfter int, moved *atomic.Int64) ([]byte, error) {
	defer f.Close()
	var got []byte
	buf := make([]byte, pace.chunk)
	for quitAfter < 0 || len(got) < quitAfter {
		n, err := f.Read(buf[:pace.next(rng, len(buf))])
		got = append(got, buf[:n]...)
		moved.Add(int64(n))
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		pace.wait(rng)
	}
	return got, nil
}
