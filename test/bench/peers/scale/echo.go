package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// errGenerator wraps a failure the generator reported (a stream whose echo
// differed, ended early or failed).
var errGenerator = errors.New("generator")

// measureEcho runs the echo topology: the load generator is a child
// process (runGenerator) that makes K socketpairs and passes one end of
// each here. Each stream is one link whose source and sink are that one
// socket: it relays what the generator writes back to it, and the
// generator's shutdown(SHUT_WR) ends the link, which shuts the socket down
// in turn. So this process holds one fd per stream and K = 10,000 fits a
// 20,000-fd limit. Unix sockets cannot be spliced: the links copy.
func measureEcho(ctx context.Context, k int, total int64, mode relay.Mode) (res Result, err error) {
	res.Requested, res.Topology = k, TopologyEcho
	if mode == relay.ModeSplice {
		return res, errors.New("echo topology relays socket to socket, which cannot splice: use -mode auto or copy")
	}
	// The generator inherits the limit: its K ends plus a batch in flight.
	if err := raiseNoFile(k + fdBatch + fdSlack); err != nil {
		fit := maxNoFile() - fdBatch - fdSlack
		if fit < 1 {
			return res, err
		}
		res.Note = fmt.Sprintf("%v: measured K=%d instead", err, fit)
		k = fit
	}
	per := total / int64(k)
	setup := time.Now()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd, ctl, err := startGenerator(ctx, k, per)
	if err != nil {
		return res, err
	}
	defer func() {
		unix.Close(ctl)
		if err != nil {
			cancel() // kill the generator; else it exits once it has reported
		}
		if werr := cmd.Wait(); werr != nil && err == nil {
			err = fmt.Errorf("generator: %w", werr)
		}
	}()
	fds, err := recvFDs(ctl, k)
	if err != nil {
		return res, err
	}

	l, err := loop.New(loop.Options{})
	if err != nil {
		closeAll(fds)
		return res, err
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, err := relay.New(l, relay.Options{Mode: relay.ModeCopy, PipeSize: -1})
	if err != nil {
		l.Close()
		closeAll(fds)
		return res, err
	}
	var linkErr atomic.Value
	var eofs int
	for i, fd := range fds {
		name := "stream " + strconv.Itoa(i)
		_, err := r.NewLink(relay.LinkConfig{
			// One fd as both ends; the source owns it, so it is closed once.
			Src: relay.Endpoint{FD: fd, Name: name, Owned: true},
			Dst: relay.Endpoint{FD: fd, Name: name},
			OnDone: func(lk *relay.Link) {
				st := lk.Stats()
				if st.Err != nil {
					linkErr.CompareAndSwap(nil, st.Err)
				}
				if st.EOF {
					eofs++
				}
			},
		})
		if err != nil {
			l.Close()
			closeAll(fds[i:]) // links own the ones before
			return res, fmt.Errorf("link %d: %w", i, err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	res.HeapPerLink = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(k)
	res.SetupSec = time.Since(setup).Seconds()

	m, err := startLoop(ctx, l)
	if err != nil {
		return res, err
	}
	var ru0, ru1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	if _, err := unix.Write(ctl, []byte{'G'}); err != nil {
		m.stop()
		return res, os.NewSyscallError("write", err)
	}
	gr, err := readGenResult(ctl)
	unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	loopCPU, loopErr := m.stop()
	switch {
	case err != nil:
		return res, err
	case gr.Err != "":
		return res, fmt.Errorf("%w: %s", errGenerator, gr.Err)
	case loopErr != nil:
		return res, loopErr
	}
	if v := linkErr.Load(); v != nil {
		return res, fmt.Errorf("link: %w", v.(error))
	}
	if eofs != k {
		return res, fmt.Errorf("%d of %d links ended at EOF", eofs, k)
	}
	res.K, res.Mode = k, relay.ModeCopy.String()
	res.Bytes, res.Seconds = gr.Bytes, gr.Seconds
	res.GBps = float64(res.Bytes) / res.Seconds / 1e9
	res.LoopCPUSec = loopCPU
	res.ProcessCPUSec = rusageSec(ru1) - rusageSec(ru0)
	res.GeneratorCPUSec = gr.CPUSec
	return res, nil
}

// startGenerator re-executes this binary as the generator with a
// SOCK_SEQPACKET control socket as its fd 3, and returns our end.
func startGenerator(ctx context.Context, k int, per int64) (*exec.Cmd, int, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, -1, err
	}
	s, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, -1, os.NewSyscallError("socketpair", err)
	}
	child := os.NewFile(uintptr(s[1]), "generator control")
	cmd := exec.CommandContext(ctx, exe, "-k", strconv.Itoa(k), "-bytes", strconv.FormatInt(per*int64(k), 10))
	cmd.Env = append(os.Environ(), genEnv+"=1")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.ExtraFiles = []*os.File{child} // fd 3 == genCtl
	err = cmd.Start()
	child.Close()
	if err != nil {
		unix.Close(s[0])
		return nil, -1, fmt.Errorf("start generator: %w", err)
	}
	return cmd, s[0], nil
}

// readGenResult waits for the generator's result message.
func readGenResult(ctl int) (genResult, error) {
	var gr genResult
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(ctl, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return gr, os.NewSyscallError("read", err)
		}
		if n == 0 {
			return gr, errors.New("generator exited without a result")
		}
		return gr, json.Unmarshal(buf[:n], &gr)
	}
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// loopMeter is a running loop and its thread's CPU clock at the start.
type loopMeter struct {
	l    *loop.Loop
	ran  chan error
	cpu0 float64
}

// startLoop runs l on its own goroutine and reads the loop thread's CPU
// time there once it runs.
func startLoop(ctx context.Context, l *loop.Loop) (*loopMeter, error) {
	m := &loopMeter{l: l, ran: make(chan error, 1)}
	cpu0 := make(chan float64, 1)
	if err := l.Post(func() { cpu0 <- threadCPU() }); err != nil {
		l.Close()
		return nil, err
	}
	go func() { m.ran <- l.Run(ctx) }()
	m.cpu0 = <-cpu0
	return m, nil
}

// stop reads the loop thread's CPU time since startLoop, stops the loop
// and returns Run's error.
func (m *loopMeter) stop() (cpuSec float64, err error) {
	cpu1 := make(chan float64, 1)
	if err := m.l.Post(func() { cpu1 <- threadCPU() }); err == nil {
		select {
		case c := <-cpu1:
			cpuSec = c - m.cpu0
		case <-time.After(5 * time.Second):
		}
	}
	m.l.Stop()
	if err := <-m.ran; err != nil && !errors.Is(err, context.Canceled) {
		return cpuSec, fmt.Errorf("loop: %w", err)
	}
	return cpuSec, nil
}
