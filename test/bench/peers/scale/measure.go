package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// Topologies: how the streams reach the relay.
const (
	// TopologyPipes: in pipe → link → out pipe, the load generator on
	// goroutines of the relay's own process; 4 fds per stream.
	TopologyPipes = "pipes"
	// TopologyEcho: one socket per stream, relayed back to itself, the load
	// generator in a child process; 1 fd per stream in the relay process.
	TopologyEcho = "echo"
)

// Result is what scale prints.
type Result struct {
	K             int     `json:"k"`
	Topology      string  `json:"topology"`
	Mode          string  `json:"mode"`
	Bytes         int64   `json:"bytes"` // received over all streams
	Seconds       float64 `json:"seconds"`
	GBps          float64 `json:"gbps"`
	LoopCPUSec    float64 `json:"loop_cpu_s"`    // the loop thread alone
	ProcessCPUSec float64 `json:"process_cpu_s"` // the relay process: loop, runtime (and, for pipes, the generator)
	// GeneratorCPUSec is the generator process's CPU (echo only).
	GeneratorCPUSec float64 `json:"generator_cpu_s,omitempty"`
	HeapPerLink     float64 `json:"heap_bytes_per_idle_link"`
	SetupSec        float64 `json:"setup_s"` // creating pipes and links
	Requested       int     `json:"k_requested"`
	Note            string  `json:"note,omitempty"`
}

// fdSlack is the fds kept free beside those of the streams (stdio, epoll,
// eventfd, the control socket, the Go runtime's own).
const fdSlack = 64

// stream is one relayed stream: the load generator writes in, reads out.
type stream struct {
	in, out           *os.File // generator's ends
	relayIn, relayOut int      // relay's ends (owned by the link)
}

// measurePipes runs the pipes topology.
func measurePipes(ctx context.Context, k int, total int64, mode relay.Mode) (res Result, err error) {
	res.Requested, res.Topology = k, TopologyPipes
	if err := raiseNoFile(4*k + fdSlack); err != nil {
		fit := maxNoFile()/4 - fdSlack
		if fit < 1 {
			return res, err
		}
		// Measure the largest K that fits rather than nothing.
		res.Note = fmt.Sprintf("%v: measured K=%d instead", err, fit)
		k = fit
	}
	setup := time.Now()
	streams := make([]stream, k)
	fds := make([]int, 0, 4*k)
	defer func() {
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
		}
	}()
	for i := range streams {
		var a, b [2]int
		if err := unix.Pipe2(a[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
			return res, fmt.Errorf("stream %d: %w", i, os.NewSyscallError("pipe2", err))
		}
		fds = append(fds, a[0], a[1])
		if err := unix.Pipe2(b[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
			return res, fmt.Errorf("stream %d: %w", i, os.NewSyscallError("pipe2", err))
		}
		fds = append(fds, b[0], b[1])
		streams[i] = stream{relayIn: a[0], relayOut: b[1]}
	}

	l, err := loop.New(loop.Options{})
	if err != nil {
		return res, err
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, err := relay.New(l, relay.Options{Mode: mode, PipeSize: -1})
	if err != nil {
		l.Close()
		return res, err
	}
	var linkErr atomic.Value
	for i, s := range streams {
		_, err := r.NewLink(relay.LinkConfig{
			Src: relay.Endpoint{FD: s.relayIn, Name: fmt.Sprintf("in %d", i), Owned: true},
			Dst: relay.Endpoint{FD: s.relayOut, Name: fmt.Sprintf("out %d", i), Owned: true},
			OnDone: func(lk *relay.Link) {
				if st := lk.Stats(); st.Err != nil {
					linkErr.CompareAndSwap(nil, st.Err)
				}
			},
		})
		if err != nil {
			l.Close()
			return res, fmt.Errorf("link %d: %w", i, err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	res.HeapPerLink = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(k)
	for i := range streams {
		// Generator ends are nonblocking, so os.NewFile puts them on Go's poller.
		streams[i].in = os.NewFile(uintptr(fds[4*i+1]), "in")
		streams[i].out = os.NewFile(uintptr(fds[4*i+2]), "out")
	}
	fds = nil // the files and the links own them now
	res.SetupSec = time.Since(setup).Seconds()

	// CPU of the loop thread, read on the loop goroutine at start and end.
	cpu0, cpu1 := make(chan float64, 1), make(chan float64, 1)
	if err := l.Post(func() { cpu0 <- threadCPU() }); err != nil {
		return res, err
	}
	runErr := make(chan error, 1)
	go func() { runErr <- l.Run(ctx) }()
	loopCPU0 := <-cpu0 // the loop is running: time from here
	var ru0 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru0)

	per := total / int64(k)
	var received atomic.Int64
	errs := make(chan error, 2*k)
	start := time.Now()
	zero := make([]byte, min(per, 64<<10))
	readSize := 64 << 10
	if k >= 1000 {
		readSize = 16 << 10
	}
	var done sync.WaitGroup
	for _, s := range streams {
		done.Add(2)
		go func() { // writer
			defer done.Done()
			left := per
			for left > 0 {
				n, err := s.in.Write(zero[:min(left, int64(len(zero)))])
				left -= int64(n)
				if err != nil {
					errs <- fmt.Errorf("write: %w", err)
					break
				}
			}
			s.in.Close()
		}()
		go func() { // reader
			defer done.Done()
			buf := make([]byte, readSize)
			for {
				n, err := s.out.Read(buf)
				received.Add(int64(n))
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					errs <- fmt.Errorf("read: %w", err)
					break
				}
			}
			s.out.Close()
		}()
	}
	if err := waitCtx(ctx, &done); err != nil {
		l.Stop()
		<-runErr
		return res, err
	}
	elapsed := time.Since(start)
	var ru1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	if err := l.Post(func() { cpu1 <- threadCPU() }); err == nil {
		select {
		case c := <-cpu1:
			res.LoopCPUSec = c - loopCPU0
		case <-time.After(5 * time.Second):
		}
	}
	l.Stop()
	if err := <-runErr; err != nil && ctx.Err() == nil {
		return res, fmt.Errorf("loop: %w", err)
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	close(errs)
	if err := <-errs; err != nil {
		return res, err
	}
	if v := linkErr.Load(); v != nil {
		return res, fmt.Errorf("link: %w", v.(error))
	}
	res.K, res.Mode = k, mode.String()
	res.Bytes = received.Load()
	if want := per * int64(k); res.Bytes != want {
		return res, fmt.Errorf("received %d bytes, want %d", res.Bytes, want)
	}
	res.Seconds = elapsed.Seconds()
	res.GBps = float64(res.Bytes) / res.Seconds / 1e9
	res.ProcessCPUSec = rusageSec(ru1) - rusageSec(ru0)
	return res, nil
}
