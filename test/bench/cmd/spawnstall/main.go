// Command spawnstall measures how much new connections arriving at
// `pipeloop serve` stall a connection that is already established: one
// client echoes 64 bytes through `serve … cat cat` every millisecond and
// times each round trip, first alone (idle), then while -conns new
// connections arrive at -rate per second (each writes 64 bytes,
// half-closes and reads the echo back, so each spawns a 2-stage pipeline).
// It prints p50, p99 and max of the established connection's round trips
// in each phase, per run, and the medians (min–max) over the rounds.
//
// Two or more binaries, given as -bin NAME=PATH, are interleaved round by
// round (A B A B …; the order flips every round), so drift on a shared
// machine falls on both alike.
//
// With -split each binary also runs as NAME-split: the arrivals go to a
// second server of the same binary, so the established connection's
// server does no spawning and what it still sees is the machine's load
// (2,000 execs a second on a few CPUs), not its own loop stalling: the
// floor that spawning off the loop thread can reach.
//
//	go run ./test/bench/cmd/spawnstall -bin before=/tmp/pl-old -bin after=/tmp/pl-new -rounds 5
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

type binFlag []struct{ name, path string }

func (b *binFlag) String() string { return fmt.Sprint(*b) }
func (b *binFlag) Set(s string) error {
	name, path, ok := strings.Cut(s, "=")
	if !ok {
		return errors.New("want NAME=PATH")
	}
	*b = append(*b, struct{ name, path string }{name, path})
	return nil
}

type options struct {
	conns  int
	rate   int
	idle   time.Duration
	period time.Duration
	stages []string
	split  bool // arrivals to a second server
}

// result is one run: the established connection's round trips.
type result struct {
	idle, load []time.Duration
	failed     int // arriving connections whose echo was wrong
	took       time.Duration
	// The established connection's server's two busiest threads during
	// the arrivals (the loop's and, after, the spawner's): time on a CPU
	// and time runnable but waiting for one (/proc/…/schedstat).
	threads []threadTime
}

type threadTime struct{ cpu, wait time.Duration }

func main() {
	var bins binFlag
	o := options{}
	rounds := flag.Int("rounds", 5, "rounds; each runs every binary once")
	flag.Var(&bins, "bin", "NAME=PATH of a pipeloop binary (repeat)")
	flag.IntVar(&o.conns, "conns", 500, "new connections per run")
	flag.IntVar(&o.rate, "rate", 1000, "new connections per second")
	flag.DurationVar(&o.idle, "idle", 500*time.Millisecond, "idle phase before the arrivals")
	flag.DurationVar(&o.period, "period", time.Millisecond, "echo period of the established connection")
	stages := flag.String("stages", "cat,cat", "comma-separated stages of the served pipeline")
	split := flag.Bool("split", false, "also run each binary with the arrivals on a second server (NAME-split)")
	flag.Parse()
	o.stages = strings.Split(*stages, ",")
	if len(bins) == 0 {
		fmt.Fprintln(os.Stderr, "spawnstall: need at least one -bin NAME=PATH")
		os.Exit(2)
	}
	runs := map[string][]result{}
	for r := 0; r < *rounds; r++ {
		order := slices.Clone(bins)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		var cases []struct{ name, path string }
		for _, b := range order {
			cases = append(cases, b)
			if *split {
				cases = append(cases, struct{ name, path string }{b.name + "-split", b.path})
			}
		}
		for _, b := range cases {
			o.split = strings.HasSuffix(b.name, "-split")
			res, err := run(b.path, o)
			if err != nil {
				fmt.Fprintf(os.Stderr, "spawnstall: %s: %v\n", b.name, err)
				os.Exit(1)
			}
			runs[b.name] = append(runs[b.name], res)
			var ts []string
			for _, t := range res.threads {
				ts = append(ts, fmt.Sprintf("cpu %v wait %v", t.cpu.Round(time.Millisecond), t.wait.Round(time.Millisecond)))
			}
			fmt.Printf("round %d %-12s idle p99 %6.0fµs max %6.0fµs | arrivals p50 %6.0fµs p99 %6.0fµs max %6.0fµs (%d rtts, %d conns in %v, %d bad; busiest threads: %s)\n",
				r+1, b.name, us(pct(res.idle, 99)), us(pct(res.idle, 100)),
				us(pct(res.load, 50)), us(pct(res.load, 99)), us(pct(res.load, 100)), len(res.load), o.conns, res.took.Round(time.Millisecond), res.failed,
				strings.Join(ts, ", "))
		}
	}
	fmt.Printf("\n%d rounds, %d conns at %d/s, echo every %v, stages %q; medians (min–max) over rounds, µs\n",
		*rounds, o.conns, o.rate, o.period, o.stages)
	fmt.Printf("%-12s %-22s %-22s %-22s %-22s\n", "binary", "idle p99", "arrivals p50", "arrivals p99", "arrivals max")
	var names []string
	for _, b := range bins {
		names = append(names, b.name)
		if *split {
			names = append(names, b.name+"-split")
		}
	}
	for _, name := range names {
		rs := runs[name]
		col := func(f func(result) time.Duration) string {
			var v []float64
			for _, r := range rs {
				v = append(v, us(f(r)))
			}
			slices.Sort(v)
			return fmt.Sprintf("%.0f (%.0f–%.0f)", v[len(v)/2], v[0], v[len(v)-1])
		}
		fmt.Printf("%-12s %-22s %-22s %-22s %-22s\n", name,
			col(func(r result) time.Duration { return pct(r.idle, 99) }),
			col(func(r result) time.Duration { return pct(r.load, 50) }),
			col(func(r result) time.Duration { return pct(r.load, 99) }),
			col(func(r result) time.Duration { return pct(r.load, 100) }))
	}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// pct is the p-th percentile (nearest rank) of ds; p = 100 is the max.
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p+99)/100 - 1
	return s[max(0, min(i, len(s)-1))]
}

// startServer starts `bin serve` on a free loopback port and returns its
// address and the function that stops it.
func startServer(bin string, o options) (addr string, pid int, stop func() error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, nil, err
	}
	addr = ln.Addr().String()
	ln.Close()
	args := append([]string{"serve", "--listen", addr, "--log", "off", "--grace", "1s"}, o.stages...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop = func() error {
		cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	}
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr, cmd.Process.Pid, stop, nil
		}
		if time.Since(start) > 5*time.Second {
			stop()
			return "", 0, nil, err
		}
	}
}

// run starts a server from bin (two with o.split), measures one run and
// stops the servers.
func run(bin string, o options) (res result, err error) {
	addr, pid, stop, err := startServer(bin, o)
	if err != nil {
		return res, err
	}
	defer func() {
		if serr := stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	arrive := addr
	if o.split {
		a, _, stop2, err := startServer(bin, o)
		if err != nil {
			return res, err
		}
		defer func() {
			if serr := stop2(); serr != nil && err == nil {
				err = serr
			}
		}()
		arrive = a
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return res, err
	}
	defer c.Close()
	msg := bytes.Repeat([]byte("p"), 64)
	buf := make([]byte, 64)
	ping := func() (time.Duration, error) {
		t := time.Now()
		if _, err := c.Write(msg); err != nil {
			return 0, err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return 0, err
		}
		return time.Since(t), nil
	}
	if _, err := ping(); err != nil { // the stages are up
		return res, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu      sync.Mutex
		loading bool
		pingErr error
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() { // the established connection's steady echo
		defer wg.Done()
		tick := time.NewTicker(o.period)
		defer tick.Stop()
		for ctx.Err() == nil {
			d, err := ping()
			if err != nil {
				pingErr = err
				return
			}
			mu.Lock()
			if loading {
				res.load = append(res.load, d)
			} else {
				res.idle = append(res.idle, d)
			}
			mu.Unlock()
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
		}
	}()
	time.Sleep(o.idle)
	mu.Lock()
	loading = true
	mu.Unlock()
	before := schedstat(pid)
	start := time.Now()
	var bad sync.WaitGroup
	var failed int
	var fmu sync.Mutex
	every := time.Second / time.Duration(o.rate)
	for i := 0; i < o.conns; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
		bad.Add(1)
		go func() {
			defer bad.Done()
			if !shortConn(arrive, msg) {
				fmu.Lock()
				failed++
				fmu.Unlock()
			}
		}()
	}
	bad.Wait()
	res.took = time.Since(start)
	for tid, t := range schedstat(pid) {
		t0 := before[tid]
		res.threads = append(res.threads, threadTime{t.cpu - t0.cpu, t.wait - t0.wait})
	}
	slices.SortFunc(res.threads, func(a, b threadTime) int { return int(b.cpu - a.cpu) })
	res.threads = res.threads[:min(2, len(res.threads))]
	res.failed = failed
	cancel()
	wg.Wait()
	if pingErr != nil {
		return res, pingErr
	}
	return res, nil
}

// schedstat is every thread of pid's time on a CPU and waiting for one.
func schedstat(pid int) map[string]threadTime {
	m := map[string]threadTime{}
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue
		}
		var cpu, wait int64
		fmt.Sscan(string(b), &cpu, &wait)
		m[e.Name()] = threadTime{time.Duration(cpu), time.Duration(wait)}
	}
	return m
}

// shortConn is one arriving connection: msg, half-close, echo back.
func shortConn(addr string, msg []byte) bool {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return false
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	return err == nil && bytes.Equal(got, msg)
}
