package test_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipeloop/pipeloop/internal/testfd"
)

// TestURingRequestResponse: pipeloop between two pipes, fed the way a
// request/response peer feeds it — a small message, then its answer read
// back before the next — with a bulk burst in the middle. The messages
// move through io_uring (the stats say so), the burst by splice, every
// byte arrives once and in order (hashed), and the end of input ends the
// run with status 0: as root and as an unprivileged user; with
// --uring=false the messages are spliced.
func TestURingRequestResponse(t *testing.T) {
	for _, who := range []string{"root", "nobody", "off"} {
		t.Run(who, func(t *testing.T) {
			prog, dir, owner := []string{bin}, t.TempDir(), 0
			if who == "nobody" {
				owner = 65534 // its pipes, as a shell of its own would make them
				prog = append(nobody(t), nobodyBin(t))
				dir = filepath.Dir(prog[len(prog)-1]) // the binary's own temporary directory
				if err := os.Chmod(dir, 0o777); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"--stats"}
			if who == "off" {
				args = append(args, "--uring=false")
			}
			b := startBetween(t, prog, dir, owner, nil, args...)
			rng := rand.New(rand.NewPCG(21, 22))
			sent, recv := sha256.New(), sha256.New()
			both := io.MultiWriter(sent, recv)
			testfd.Exchange(t, b.in, b.out, rng, 300, both)
			b.burst(t, rng, 8<<20, both)
			testfd.Exchange(t, b.in, b.out, rng, 300, both)
			rest, err, r := b.finish(t)
			if err != nil || len(rest) != 0 || len(r.Links) != 1 {
				t.Fatalf("pipeloop: %v, %d bytes after the last message, %d links", err, len(rest), len(r.Links))
			}
			if !bytes.Equal(sent.Sum(nil), recv.Sum(nil)) {
				t.Fatal("the bytes out differ from the bytes in")
			}
			l := r.Links[0]
			t.Logf("%s: %d bytes, %d through io_uring, %d spliced", who, l.Bytes, l.URingBytes, l.SpliceBytes)
			if ring := strings.Contains(b.stderr.String(), " splice+uring "); ring != (who != "off") {
				t.Fatalf("--stats table shows the link's mode as splice+uring: %v, want %v", ring, who != "off")
			}
			if who == "off" {
				if l.URingBytes != 0 || l.SpliceBytes != l.Bytes {
					t.Fatalf("--uring=false: %d bytes through io_uring, %d of %d spliced", l.URingBytes, l.SpliceBytes, l.Bytes)
				}
				return
			}
			if l.URingBytes == 0 || l.SpliceBytes < 4<<20 {
				t.Fatalf("io_uring moved %d bytes and splice %d: want the messages through the ring, the burst spliced",
					l.URingBytes, l.SpliceBytes)
			}
		})
	}
}
