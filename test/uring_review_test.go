package test_test

import (
	"bytes"
	"crypto/sha256"
	"github.com/pipeloop/pipeloop/internal/testfd"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// TestURingPipelineSinkExits: pipeloop 'cat' 'dd bs=100 count=10', fed 100-byte
// messages one at a time, each read back from pipeloop's stdout before
// the next. The link cat → head moves them through io_uring after the
// first few; dd takes the tenth and exits. dd wrote 1000 bytes, so
// the link delivered at least 1000 to it; the report must say so.
func TestURingPipelineSinkExits(t *testing.T) {
	for _, uring := range []bool{false, true} {
		t.Run(map[bool]string{true: "uring", false: "epoll"}[uring], func(t *testing.T) {
			var args []string
			if !uring {
				args = append(args, "--uring=false")
			}
			b := startBetween(t, []string{bin}, t.TempDir(), 0, nil,
				append(args, "cat", "dd bs=100 count=10 iflag=fullblock status=none")...)
			inW, outR := b.in, b.out
			got := make([]byte, 100)
			for i := range 10 {
				msg := bytes.Repeat([]byte{byte('a' + i)}, 100)
				if _, err := inW.Write(msg); err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				outR.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(outR, got); err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("message %d: %v %q", i, err, got)
				}
			}
			// dd has exited: cat dies of SIGPIPE at its next write, or ends
			// at EOF.
			rest, err, r := b.finish(t)
			if len(r.Links) != 1 {
				t.Fatalf("%d links; pipeloop %v", len(r.Links), err)
			}
			for _, l := range r.Links {
				t.Logf("link %d %s → %s: %d bytes, %d through io_uring, dropped %d, end %s", l.Index, l.From, l.To, l.Bytes, l.URingBytes, l.DroppedBytes, l.End)
			}
			if len(rest) != 0 {
				t.Errorf("%d bytes after dd's 1000", len(rest))
			}
			if l := r.Links[0]; l.Bytes < 1000 {
				t.Errorf("dd wrote 1000 bytes, all received through link %d, which reports %d bytes delivered (%d through io_uring)",
					l.Index, l.Bytes, l.URingBytes)
			}
		})
	}
}

// TestURingPipelineCats: pipeloop 'cat' 'cat' 'cat' (two relayed
// links, both in the ring), request/response messages with a burst in the
// middle, GOMAXPROCS 1 and default: byte-exact, exact per-link Bytes,
// status 0.
func TestURingPipelineCats(t *testing.T) {
	for _, procs := range []string{"1", ""} {
		t.Run("GOMAXPROCS="+procs, func(t *testing.T) {
			b := startBetween(t, []string{bin}, t.TempDir(), 0, []string{"GOMAXPROCS=" + procs}, "cat", "cat", "cat")
			rng := rand.New(rand.NewPCG(41, 42))
			sent, recv := sha256.New(), sha256.New()
			var total uint64
			cw := writerFunc(func(p []byte) (int, error) { total += uint64(len(p)); return sent.Write(p) })
			both := io.MultiWriter(cw, recv)
			testfd.Exchange(t, b.in, b.out, rng, 300, both)
			b.burst(t, rng, 1<<20, both)
			testfd.Exchange(t, b.in, b.out, rng, 300, both)
			rest, err, r := b.finish(t)
			if err != nil || len(rest) != 0 || len(r.Links) != 2 {
				t.Fatalf("pipeloop: %v, %d bytes after the last, %d links", err, len(rest), len(r.Links))
			}
			if !bytes.Equal(sent.Sum(nil), recv.Sum(nil)) {
				t.Fatal("bytes out differ from bytes in")
			}
			for _, l := range r.Links {
				t.Logf("link %d: %d bytes, %d through io_uring, end %s", l.Index, l.Bytes, l.URingBytes, l.End)
				if l.Bytes != total || l.URingBytes == 0 || l.End != "eof" {
					t.Errorf("link %d: %d bytes (want %d), %d through io_uring, end %s", l.Index, l.Bytes, total, l.URingBytes, l.End)
				}
			}
		})
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestURingNeverWith: --lines, --rate-limit, --mode copy and --mode
// splice (the path asked for) keep every link off the ring (uring_bytes
// 0), byte-exact.
func TestURingNeverWith(t *testing.T) {
	for _, flags := range [][]string{{"--lines"}, {"--rate-limit", "100M"}, {"--mode", "copy"}, {"--mode", "splice"}} {
		t.Run(flags[len(flags)-1], func(t *testing.T) {
			b := startBetween(t, []string{bin}, t.TempDir(), 0, nil, append(flags, "cat", "cat", "cat")...)
			sent, recv := sha256.New(), sha256.New()
			testfd.Exchange(t, b.in, b.out, rand.New(rand.NewPCG(71, 72)), 200, io.MultiWriter(sent, recv))
			_, err, r := b.finish(t)
			if err != nil || !bytes.Equal(sent.Sum(nil), recv.Sum(nil)) {
				t.Fatalf("pipeloop: %v; bytes equal %v", err, bytes.Equal(sent.Sum(nil), recv.Sum(nil)))
			}
			for _, l := range r.Links {
				t.Logf("link %d: %d bytes, %d through io_uring, mode %s", l.Index, l.Bytes, l.URingBytes, l.Mode)
				if l.URingBytes != 0 {
					t.Errorf("%v: link %d moved %d bytes through io_uring", flags, l.Index, l.URingBytes)
				}
			}
		})
	}
}
