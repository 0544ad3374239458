package relay_test

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/faultfd"
	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// TestPipelineProperties: pipelines of 2 to 4 cat stages with random
// mode, ring and pipe sizes, pacing and non-fatal faults (EINTR, EAGAIN
// with a later edge, short transfers) in every relayed link deliver the
// input exactly and exit 0.
func TestPipelineProperties(t *testing.T) {
	runs := 24
	if testing.Short() {
		runs = 6
	}
	for i := range runs {
		seed := uint64(i) + 1
		rng := rand.New(rand.NewPCG(seed, 21))
		n := 2 + rng.IntN(3)
		mode := pick(rng, relay.ModeAuto, relay.ModeCopy, relay.ModeSplice)
		buffer := pick(rng, 4097, 65536, 256<<10)
		pipeSize := pick(rng, -1, 4096, 65536, 1<<20)
		size := rng.IntN(1 << 20)
		intr, again, short := pick(rng, 0, 0.1), pick(rng, 0, 0.1), pick(rng, 0, 0.5)
		wpace := pacing{chunk: pick(rng, 512, 65536), pauseP: pick(rng, 0, 0.05), pause: 200 * time.Microsecond}
		rpace := pacing{chunk: pick(rng, 512, 65536), pauseP: pick(rng, 0, 0.05), pause: 200 * time.Microsecond}
		wpace.bound(size)
		rpace.bound(size)
		name := fmt.Sprintf("seed=%d/stages=%d/%v/buffer=%d/pipe=%d/size=%d", seed, n, mode, buffer, pipeSize, size)
		t.Run(name, func(t *testing.T) {
			payload := make([]byte, size)
			for i := range payload {
				payload[i] = byte(rng.Uint32())
			}
			var e *env
			wakeRng := rand.New(rand.NewPCG(seed, 22))
			inj := faultfd.MustNew(nil, faultfd.Config{Rand: rand.New(rand.NewPCG(seed, 23)),
				Intr: intr, Again: again, Short: short,
				Wake: func(fd int) {
					e.l.AfterFunc(time.Duration(wakeRng.IntN(2))*time.Millisecond, func() { rearm(e.l, fd) })
				}})
			e = newEnv(t, relay.WithOps(relay.Options{Mode: mode, BufferSize: buffer, PipeSize: pipeSize}, inj))
			in := newPair(t, "pipe", true, 0)   // test writes, stage 1 reads
			out := newPair(t, "pipe", false, 0) // stage n writes, test reads
			stages := make([]relay.Stage, n)
			for i := range stages {
				stages[i] = relay.Stage{Args: []string{"cat"}}
			}
			exited := make(chan int, 1)
			unix.SetNonblock(in.relay, false) // the stages' stdin and stdout, as a shell gives them
			unix.SetNonblock(out.relay, false)
			var err error
			e.do(func() {
				_, err = e.r.StartPipeline(relay.PipelineConfig{Stages: stages, Stdin: relay.Inherit(in.relay), Stdout: relay.Inherit(out.relay), Stderr: relay.Inherit(2),
					OnExit: func(p *relay.Pipeline) { exited <- p.ExitCode() }})
			})
			unix.Close(in.relay) // the stages have them now
			unix.Close(out.relay)
			if err != nil {
				in.test.Close()
				out.test.Close()
				t.Fatalf("StartPipeline: %v", err)
			}
			go feed(in.test, payload, wpace, rand.New(rand.NewPCG(seed, 24)), in.moved)
			got, rerr := drain(out.test, rpace, rand.New(rand.NewPCG(seed, 25)), -1, out.moved)
			code := wait(t, exited, "pipeline")
			if rerr != nil || sha256.Sum256(got) != sha256.Sum256(payload) {
				t.Fatalf("read %d of %d bytes (%v), SHA-256 differs; injected %v", len(got), len(payload), rerr, inj)
			}
			if code != 0 {
				t.Fatalf("exit %d; injected %v", code, inj)
			}
			t.Logf("injected %v", inj)
		})
	}
}
