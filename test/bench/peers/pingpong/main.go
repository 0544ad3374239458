// Command pingpong is the two ends of the latency benchmark.
//
//	pingpong pong                    echo SIZE-byte messages from stdin to stdout
//	pingpong ping [flags]            send a message on stdout, wait for it on
//	                                 stdin, time the round trip; repeat
//
// The harness connects ping's stdout to pong's stdin and pong's stdout back
// to ping's stdin, either directly or through one relay on each direction.
// ping writes a JSON summary (percentiles in nanoseconds) to the file named
// by -out. Both ends use raw read(2) and write(2) on blocking fds from a
// goroutine locked to its thread, so the Go runtime adds no poller wake-ups.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pingpong:", err)
		os.Exit(1)
	}
}

// Summary is what ping writes to -out.
type Summary struct {
	Trips  int   `json:"trips"`
	Warmup int   `json:"warmup"`
	Size   int   `json:"size"`
	MinNS  int64 `json:"min_ns"`
	P50NS  int64 `json:"p50_ns"`
	P90NS  int64 `json:"p90_ns"`
	P99NS  int64 `json:"p99_ns"`
	P999NS int64 `json:"p999_ns"`
	MaxNS  int64 `json:"max_ns"`
	MeanNS int64 `json:"mean_ns"`
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: pingpong ping|pong [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	size := fs.Int("size", 64, "message size in bytes")
	trips := fs.Int("n", 100000, "timed round trips")
	warmup := fs.Int("warmup", 10000, "untimed round trips first")
	out := fs.String("out", "", "file for the JSON summary (ping)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *trips < 1 || *size < 1 {
		return fmt.Errorf("-n and -size must be at least 1")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	switch args[0] {
	case "pong":
		return pong(*size)
	case "ping":
		s, err := ping(ctx, *size, *warmup, *trips)
		if err != nil {
			return err
		}
		if err := drain(); err != nil {
			return err
		}
		data, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if *out == "" {
			_, err = fmt.Printf("%s\n", data)
			return err
		}
		return os.WriteFile(*out, data, 0o644)
	}
	return fmt.Errorf("unknown role %q", args[0])
}

// pong echoes messages until EOF on stdin.
func pong(size int) error {
	buf := make([]byte, size)
	for {
		if err := readFull(0, buf); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("pong: %w", err)
		}
		if err := writeFull(1, buf); err != nil {
			return fmt.Errorf("pong: %w", err)
		}
	}
}

// ping runs warmup+trips round trips and summarises the timed ones.
func ping(ctx context.Context, size, warmup, trips int) (Summary, error) {
	msg := make([]byte, size)
	back := make([]byte, size)
	rtt := make([]int64, trips)
	for i := range warmup + trips {
		if i%4096 == 0 && ctx.Err() != nil {
			return Summary{}, ctx.Err()
		}
		msg[0] = byte(i)
		start := time.Now()
		if err := writeFull(1, msg); err != nil {
			return Summary{}, fmt.Errorf("ping %d: %w", i, err)
		}
		if err := readFull(0, back); err != nil {
			return Summary{}, fmt.Errorf("ping %d: %w", i, err)
		}
		d := time.Since(start)
		if back[0] != msg[0] {
			return Summary{}, fmt.Errorf("ping %d: got message %d back", i, back[0])
		}
		if i >= warmup {
			rtt[i-warmup] = int64(d)
		}
	}
	return summarise(rtt, warmup, size), nil
}

// drain shuts the ring down in order: closing stdout lets EOF travel through
// every process on the ring, and ping leaves only when it comes back on
// stdin, so no process ever sees its reader gone first.
func drain() error {
	if err := syscall.Close(1); err != nil {
		return os.NewSyscallError("close", err)
	}
	buf := make([]byte, 4096)
	for {
		n, err := syscall.Read(0, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("read", err)
		}
		if n == 0 {
			return nil
		}
	}
}

func summarise(rtt []int64, warmup, size int) Summary {
	var sum int64
	for _, v := range rtt {
		sum += v
	}
	slices.Sort(rtt)
	q := func(p float64) int64 { return rtt[min(len(rtt)-1, int(p*float64(len(rtt))))] }
	return Summary{
		Trips: len(rtt), Warmup: warmup, Size: size,
		MinNS: rtt[0], P50NS: q(0.50), P90NS: q(0.90), P99NS: q(0.99), P999NS: q(0.999),
		MaxNS: rtt[len(rtt)-1], MeanNS: sum / int64(len(rtt)),
	}
}

func readFull(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := syscall.Read(fd, p)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("read", err)
		}
		if n == 0 {
			return io.EOF
		}
		p = p[n:]
	}
	return nil
}

func writeFull(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := syscall.Write(fd, p)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("write", err)
		}
		p = p[n:]
	}
	return nil
}
