package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The generator is the echo topology's load generator: the same binary,
// re-executed with genEnv set, in its own process so the relay process
// holds only one fd per stream. fd genCtl is a SOCK_SEQPACKET socket to
// the relay process. The protocol, one message each:
//
//	generator → relay  the relay's ends of K socketpairs, fdBatch per message
//	relay → generator  "G": the links are up, start
//	generator → relay  a genResult as JSON, after the last stream's EOF
const (
	genEnv = "PIPELOOP_SCALE_GENERATOR"
	genCtl = 3
)

// genResult is what the generator reports.
type genResult struct {
	Bytes   int64   `json:"bytes"` // echoed and verified, over all streams
	Seconds float64 `json:"seconds"`
	CPUSec  float64 `json:"cpu_s"` // the generator's own CPU while streaming
	Err     string  `json:"error,omitempty"`
}

// patLen is the pattern's period: a prime, so chunk boundaries drift over
// it and stream i's start offset (i*patStride mod patLen) differs for
// every i below patLen.
const (
	patLen    = 65537 // prime, and at least ioChunk
	patStride = 4099
	ioChunk   = 64 << 10 // bytes per read or write; at most patLen
)

// Any window of ioChunk bytes at an offset below patLen lies within pat.
const _ = uint(patLen - ioChunk) // compile error if ioChunk > patLen

// runGenerator is the generator process's main.
func runGenerator(ctx context.Context, k int, per int64) error {
	if err := raiseNoFile(k + fdBatch + fdSlack); err != nil {
		return err
	}
	ends := make([]int, 0, k)
	defer func() {
		for _, fd := range ends {
			unix.Close(fd)
		}
	}()
	batch := make([]int, 0, fdBatch)
	for i := range k {
		s, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("stream %d: %w", i, os.NewSyscallError("socketpair", err))
		}
		ends = append(ends, s[0])
		batch = append(batch, s[1])
		if len(batch) == fdBatch || i == k-1 {
			err := sendFDs(genCtl, batch)
			for _, fd := range batch {
				unix.Close(fd) // the relay holds them now
			}
			batch = batch[:0]
			if err != nil {
				return err
			}
		}
	}
	files := make([]*os.File, k)
	for i, fd := range ends {
		files[i] = os.NewFile(uintptr(fd), "stream") // nonblocking: on Go's poller
	}
	ends = nil

	var b [1]byte
	if n, err := unix.Read(genCtl, b[:]); err != nil || n != 1 || b[0] != 'G' {
		return fmt.Errorf("wait for start: got %d bytes: %v", n, err)
	}
	res := generate(ctx, files, per)
	msg, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if _, err := unix.Write(genCtl, msg); err != nil {
		return os.NewSyscallError("write", err)
	}
	return nil
}

// generate runs every stream at once: per stream, one goroutine writes per
// bytes of the pattern and shuts down writing, another reads the echo to EOF
// and compares it with the pattern byte for byte. It closes the files.
func generate(ctx context.Context, files []*os.File, per int64) genResult {
	pat := make([]byte, 2*patLen) // twice the period: any window up to patLen is contiguous
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range patLen {
		pat[i] = byte(rng.Uint32())
	}
	copy(pat[patLen:], pat[:patLen])
	bufs := sync.Pool{New: func() any { b := make([]byte, ioChunk); return &b }}

	var firstErr atomic.Value
	fail := func(err error) { firstErr.CompareAndSwap(nil, err) }
	var received atomic.Int64
	var ru0, ru1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	start := time.Now()
	var wg sync.WaitGroup
	for i, f := range files {
		off0 := int64(i) * patStride % patLen
		rc, err := f.SyscallConn()
		if err != nil {
			fail(err)
			break
		}
		var writing sync.WaitGroup
		writing.Add(1)
		wg.Add(2)
		go func() { // writer
			defer wg.Done()
			defer writing.Done()
			var sent int64
			var werr error
			err := rc.Write(func(fd uintptr) bool {
				for sent < per {
					o := (off0 + sent) % patLen
					n, err := unix.Write(int(fd), pat[o:o+min(per-sent, ioChunk)])
					switch {
					case err == unix.EINTR:
						continue
					case err == unix.EAGAIN:
						return false
					case err != nil:
						werr = err
						return true
					}
					sent += int64(n)
				}
				return true
			})
			if err == nil {
				err = werr
			}
			if err == nil {
				rc.Control(func(fd uintptr) { err = unix.Shutdown(int(fd), unix.SHUT_WR) })
			}
			if err != nil {
				fail(fmt.Errorf("stream %d: write: %w", i, err))
			}
		}()
		go func() { // reader
			defer wg.Done()
			var got int64
			var rerr error
			err := rc.Read(func(fd uintptr) bool {
				bp := bufs.Get().(*[]byte)
				defer bufs.Put(bp)
				for {
					n, err := unix.Read(int(fd), *bp)
					switch {
					case err == unix.EINTR:
						continue
					case err == unix.EAGAIN:
						return false
					case err != nil:
						rerr = err
						return true
					case n == 0:
						return true // EOF
					}
					o := (off0 + got) % patLen
					if got+int64(n) > per || !bytes.Equal((*bp)[:n], pat[o:o+int64(n)]) {
						rerr = fmt.Errorf("echo differs from what was sent in bytes %d..%d", got, got+int64(n))
						return true
					}
					got += int64(n)
					received.Add(int64(n))
				}
			})
			if err == nil {
				err = rerr
			}
			if err == nil && got != per {
				err = fmt.Errorf("echo ended after %d bytes, want %d", got, per)
			}
			if err != nil {
				fail(fmt.Errorf("stream %d: read: %w", i, err))
			}
			writing.Wait()
			f.Close()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var res genResult
	select {
	case <-done:
	case <-ctx.Done():
		fail(ctx.Err())
	}
	res.Seconds = time.Since(start).Seconds()
	unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	res.CPUSec = rusageSec(ru1) - rusageSec(ru0)
	res.Bytes = received.Load()
	if v := firstErr.Load(); v != nil {
		res.Err = v.(error).Error()
	} else if want := per * int64(len(files)); res.Bytes != want {
		res.Err = fmt.Sprintf("echoed %d bytes, want %d", res.Bytes, want)
	}
	return res
}
