package main

import (
	"context"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// raiseNoFile makes room for n open files, raising the hard limit too when
// the process may (root).
func raiseNoFile(n int) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return os.NewSyscallError("getrlimit", err)
	}
	if lim.Cur >= uint64(n) {
		return nil
	}
	want := unix.Rlimit{Cur: uint64(n), Max: max(lim.Max, uint64(n))}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); err != nil {
		unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: lim.Max, Max: lim.Max})
		return fmt.Errorf("raise RLIMIT_NOFILE to %d (hard limit %d): %w", n, lim.Max, os.NewSyscallError("setrlimit", err))
	}
	return nil
}

// maxNoFile is the most open files this process can have: the raised
// soft limit, which raiseNoFile set to the hard limit if it failed.
func maxNoFile() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return int(lim.Cur)
}

// threadCPU is the calling thread's CPU time in seconds.
func threadCPU() float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return float64(ts.Nano()) / 1e9
}

func rusageSec(ru unix.Rusage) float64 {
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// waitCtx waits for wg or for ctx to end.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) error {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
