package test_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pipeloop/pipeloop/internal/testfd"
	"github.com/pipeloop/pipeloop/report"
	"golang.org/x/sys/unix"
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
			stats := filepath.Join(dir, "stats.json")
			inR, inW := pipeOf(t, owner)
			outR, outW := pipeOf(t, owner)
			args := append(prog[1:], "--stats-json", stats)
			if who == "off" {
				args = append(args, "--uring=false")
			}
			cmd := exec.Command(prog[0], args...)
			cmd.Stdin, cmd.Stdout = inR, outW
			cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			inR.Close()
			outW.Close()
			rng := rand.New(rand.NewPCG(21, 22))
			sent, recv := sha256.New(), sha256.New()
			defer func() {
				if t.Failed() {
					t.Logf("pipeloop's stderr: %s", stderr.String())
				}
			}()
			testfd.Exchange(t, inW, outR, rng, 300, io.MultiWriter(sent, recv))
			bulk := make([]byte, 8<<20)
			for i := range bulk {
				bulk[i] = byte(rng.Uint32())
			}
			go func() { inW.Write(bulk) }()
			got := make([]byte, len(bulk))
			if _, err := io.ReadFull(outR, got); err != nil {
				t.Fatalf("bulk: %v; stderr: %s", err, stderr.String())
			}
			sent.Write(bulk)
			recv.Write(got)
			testfd.Exchange(t, inW, outR, rng, 300, io.MultiWriter(sent, recv))
			inW.Close()
			rest, _ := io.ReadAll(outR)
			if err := cmd.Wait(); err != nil || len(rest) != 0 {
				t.Fatalf("pipeloop: %v, %d bytes after the last message; stderr: %s", err, len(rest), stderr.String())
			}
			if !bytes.Equal(sent.Sum(nil), recv.Sum(nil)) {
				t.Fatal("the bytes out differ from the bytes in")
			}
			var r report.Report
			b, err := os.ReadFile(stats)
			if err == nil {
				err = json.Unmarshal(b, &r)
			}
			if err != nil || len(r.Links) != 1 {
				t.Fatalf("stats: %v (%d links)", err, len(r.Links))
			}
			l := r.Links[0]
			t.Logf("%s: %d bytes, %d through io_uring, %d spliced", who, l.Bytes, l.URingBytes, l.SpliceBytes)
			if who == "off" {
				if l.URingBytes != 0 || l.SpliceBytes != l.Bytes {
					t.Fatalf("--uring=false: %d bytes through io_uring, %d of %d spliced", l.URingBytes, l.SpliceBytes, l.Bytes)
				}
				return
			}
			if l.URingBytes == 0 || l.SpliceBytes < uint64(len(bulk))/2 {
				t.Fatalf("io_uring moved %d bytes and splice %d: want the messages through the ring, the burst spliced",
					l.URingBytes, l.SpliceBytes)
			}
		})
	}
}

// pipeOf is os.Pipe with the pipe's inode owned by uid (its creator's
// fsuid), both ends closed at cleanup.
func pipeOf(t *testing.T, uid int) (r, w *os.File) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// setfsuid answers the previous fsuid, which x/sys/unix drops: this
	// test process's is its uid.
	unix.Setfsuid(uid)
	r, w, err := os.Pipe()
	unix.Setfsuid(os.Getuid())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}
