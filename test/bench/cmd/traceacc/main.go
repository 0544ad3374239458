//go:build linux

// Command traceacc checks the stall tracer (package trace) against the
// scheduler's own accounting of the same process, for docs/trace-accuracy.md
// (issue 13). Needs root.
//
// Each workload runs one watched process, started behind a gate so that
// the tracer watches it before it does anything. From opening the gate to
// the process's exit (read as a zombie, before it is reaped), the
// independent measures come from /proc/PID/schedstat, which the kernel
// keeps whether or not anything is traced:
//
//	off-CPU  = wall − Δ CPU time (schedstat field 1)
//	sleeping = off-CPU − Δ run_delay (field 2: time runnable, waiting for a CPU)
//
// and are compared with the tracer's total (all its pipe and poll waits)
// and its blocked part (total − runnable). The workloads do no disk I/O,
// so the process sleeps only in the waits the tracer classifies; off-CPU
// also holds the time it waited for a CPU after being preempted, which the
// tracer does not count as a wait.
//
// Usage: go run ./test/bench/cmd/traceacc [-rounds N] [-only SUBSTRING]
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pipeloop/pipeloop/test/bench"
	"github.com/pipeloop/pipeloop/trace"
	"golang.org/x/sys/unix"
)

// roleEnv switches this binary into a helper role: "slowread" reads stdin
// in 64 KiB reads, sleeping 1 ms after each; "slowwrite" writes
// PIPELOOP_ACC_BLOCKS 64 KiB blocks, sleeping 1 ms before each; "hog"
// spins until killed.
const roleEnv = "PIPELOOP_ACC_ROLE"

func main() {
	switch os.Getenv(roleEnv) {
	case "slowread":
		slowRead()
		return
	case "slowwrite":
		slowWrite()
		return
	case "hog":
		for {
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "traceacc:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("traceacc", flag.ContinueOnError)
	rounds := fs.Int("rounds", 3, "runs of each workload (the median is printed)")
	only := fs.String("only", "", "run only the workloads whose name contains this")
	if err := fs.Parse(args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tarDir := runtime.GOROOT() + "/src"
	exec.Command("tar", "cf", "/dev/null", tarDir).Run() // warm the page cache
	// The C io_uring relay of the latency benchmark, for the workloads that
	// wait in io_uring_enter (run from the repository root).
	dir, err := os.MkdirTemp("", "traceacc")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var tools bench.Tools
	tools.BuildC(ctx, ".", dir)
	fmt.Fprintf(out, "%d vCPUs, Linux %s; load average at the start: %s\n", runtime.NumCPU(), strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")), readFile("/proc/loadavg"))
	fmt.Fprintf(out, "Seconds, median of %d runs (by off-CPU time). Off-CPU and sleeping are the kernel's schedstat; traced and blocked the tracer's.\n\n", *rounds)
	fmt.Fprintln(out, "| workload | watched | wall | off-CPU | traced | traced vs off-CPU | sleeping | traced blocked | blocked vs sleeping | runnable: traced / run_delay |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|---|")
	for _, w := range workloads(self, tarDir, tools.CUring) {
		if !strings.Contains(w.name, *only) {
			continue
		}
		var ms []measure
		for range *rounds {
			if err := ctx.Err(); err != nil {
				return err
			}
			m, err := w.run(ctx)
			if err != nil {
				return fmt.Errorf("%s: %w", w.name, err)
			}
			ms = append(ms, m)
		}
		slices.SortFunc(ms, func(a, b measure) int { return int(a.offCPU - b.offCPU) })
		m := ms[len(ms)/2]
		cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
		shown := cmp.Or(w.shown, w.watched)
		fmt.Fprintf(out, "| %s | `%s` | %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(w.name), cell(shown),
			sec(m.wall), sec(m.offCPU), sec(m.total), pct(m.total, m.offCPU),
			sec(m.sleeping), sec(m.blocked), pct(m.blocked, m.sleeping), fmt.Sprintf("%s / %s", sec(m.runnable), sec(m.runDelay)))
	}
	if tools.CUring == "" {
		fmt.Fprintf(out, "\nThe io_uring workloads did not run: %s\n", tools.CErr)
	}
	fmt.Fprintf(out, "\nload average at the end: %s", readFile("/proc/loadavg"))
	return nil
}

// workload is a pipeline of up to three parts: an optional shell command
// feeding the watched stage, the stage (run behind a gate), and an
// optional shell command it feeds.
type workload struct {
	name, watched string
	shown         string // the watched column, if not watched itself
	before, after string // sh -c commands around the stage ("" for none)
	cpu           int    // pin the watched stage (and the hog) to this CPU; -1: no
	hog           bool
}

// workloads returns the workloads to measure; those of the C io_uring
// relay only with cUring, its path.
func workloads(self, tarDir, cUring string) []workload {
	slowWrite := "env " + roleEnv + "=slowwrite PIPELOOP_ACC_BLOCKS=2000 " + shQuote(self)
	// A reader beside a hog reads slowly: fewer blocks.
	slowWriteFew := "env " + roleEnv + "=slowwrite PIPELOOP_ACC_BLOCKS=200 " + shQuote(self)
	ws := []workload{
		{name: "writer into a slow reader", watched: "dd if=/dev/zero bs=64k count=2000 status=none",
			after: "env " + roleEnv + "=slowread " + shQuote(self), cpu: -1},
		{name: "slow producer into cat", watched: "cat", before: slowWrite, cpu: -1},
		{name: "tar | gzip -1 | cat", watched: "tar cPf - " + shQuote(tarDir), after: "gzip -1 | cat", cpu: -1},
		{name: "balanced dd | dd (1 GiB)", watched: "dd of=/dev/null bs=64k status=none", before: "dd if=/dev/zero bs=64k count=16384 status=none", cpu: -1},
		// The runnable split: cat on CPU 1, alone and beside a hog at nice
		// -20 (86 times cat's weight), so each wakeup waits for the CPU.
		{name: "slow producer (200 blocks) into cat on CPU 1, alone", watched: "cat", before: slowWriteFew, cpu: 1},
		{name: "slow producer (200 blocks) into cat on CPU 1, a nice -20 CPU hog beside it", watched: "cat", before: slowWriteFew, cpu: 1, hog: true},
	}
	if cUring == "" {
		return ws
	}
	// A relay waiting in io_uring_enter for its read's completion (in poll).
	return append(ws,
		workload{name: "slow producer into a C io_uring relay", watched: shQuote(cUring), shown: "crelay-uring", before: slowWrite, cpu: -1},
		workload{name: "dd into a C io_uring relay (1 GiB)", watched: shQuote(cUring), shown: "crelay-uring", before: "dd if=/dev/zero bs=64k count=16384 status=none", cpu: -1})
}

// measure is one run: the independent measures and the tracer's.
type measure struct {
	wall, offCPU, sleeping, runDelay time.Duration // schedstat and the clock
	total, blocked, runnable         time.Duration // the tracer
}

func (w workload) run(ctx context.Context) (_ measure, err error) {
	tr, err := trace.New(trace.Options{})
	if err != nil {
		return measure{}, err
	}
	defer tr.Close()
	if w.hog {
		hog := exec.CommandContext(ctx, "nice", "-n", "-20", "taskset", "-c", strconv.Itoa(w.cpu), os.Args[0])
		hog.Env = append(os.Environ(), roleEnv+"=hog")
		if err := hog.Start(); err != nil {
			return measure{}, err
		}
		defer func() { hog.Process.Kill(); hog.Wait() }()
	}
	var cmds []*exec.Cmd
	var closeAfterStart []*os.File
	defer func() {
		for _, f := range closeAfterStart {
			f.Close()
		}
		for _, c := range cmds {
			if c.ProcessState == nil {
				c.Process.Kill()
				c.Wait()
			}
		}
	}()
	start := func(c *exec.Cmd) error {
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			return err
		}
		cmds = append(cmds, c)
		return nil
	}
	gateR, gateW, err := os.Pipe()
	if err != nil {
		return measure{}, err
	}
	defer gateW.Close()
	closeAfterStart = append(closeAfterStart, gateR)
	watched := "exec " + w.watched
	if w.cpu >= 0 {
		watched = "exec taskset -c " + strconv.Itoa(w.cpu) + " " + w.watched
	}
	// sh reads the gate on fd 3, then execs the stage: the pid stays.
	stage := exec.CommandContext(ctx, "sh", "-c", "read _ <&3; exec 3<&-; "+watched)
	stage.ExtraFiles = []*os.File{gateR}
	if w.before != "" {
		r, wr, err := os.Pipe()
		if err != nil {
			return measure{}, err
		}
		closeAfterStart = append(closeAfterStart, r, wr)
		before := exec.CommandContext(ctx, "sh", "-c", w.before)
		before.Stdout, stage.Stdin = wr, r
		if err := start(before); err != nil {
			return measure{}, err
		}
	}
	var after *exec.Cmd
	if w.after != "" {
		r, wr, err := os.Pipe()
		if err != nil {
			return measure{}, err
		}
		closeAfterStart = append(closeAfterStart, r, wr)
		after = exec.CommandContext(ctx, "sh", "-c", w.after)
		after.Stdin, stage.Stdout = r, wr
	}
	if err := start(stage); err != nil {
		return measure{}, err
	}
	if after != nil {
		if err := start(after); err != nil {
			return measure{}, err
		}
	}
	for _, f := range closeAfterStart {
		f.Close()
	}
	closeAfterStart = nil
	pid := stage.Process.Pid
	if err := tr.Watch(pid); err != nil {
		return measure{}, err
	}
	time.Sleep(50 * time.Millisecond) // the stage is asleep at the gate
	before, err := tr.Snapshot()
	if err != nil {
		return measure{}, err
	}
	cpu0, delay0, err := schedstat(pid)
	if err != nil {
		return measure{}, err
	}
	t0 := time.Now()
	gateW.Write([]byte("go\n"))
	gateW.Close()
	// Wait for the stage's exit without reaping it: its schedstat stays
	// readable while it is a zombie.
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return measure{}, os.NewSyscallError("waitid", err)
		}
	}
	wall := time.Since(t0)
	cpu1, delay1, err := schedstat(pid)
	if err != nil {
		return measure{}, err
	}
	afterRep, err := tr.Snapshot()
	if err != nil {
		return measure{}, err
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			return measure{}, fmt.Errorf("%s: %w", strings.Join(c.Args, " "), err)
		}
	}
	m := measure{wall: wall, runDelay: delay1 - delay0}
	m.offCPU = wall - (cpu1 - cpu0)
	m.sleeping = m.offCPU - m.runDelay
	gate := gateInode(before, pid)
	sum := func(r trace.Report) (total, runnable time.Duration) {
		for _, rec := range r.Records {
			if rec.Tgid == pid && rec.Inode != gate {
				total += rec.Total
				runnable += rec.Runnable
			}
		}
		return total, runnable
	}
	t1, r1 := sum(afterRep)
	t0d, r0 := sum(before)
	m.total, m.runnable = t1-t0d, r1-r0
	m.blocked = m.total - m.runnable
	return m, nil
}

// gateInode is the pipe the stage waited on at the gate: its only record
// before the gate opened.
func gateInode(r trace.Report, pid int) uint64 {
	for _, rec := range r.Records {
		if rec.Tgid == pid && rec.Dir == trace.DirRead {
			return rec.Inode
		}
	}
	return 0
}

// schedstat returns the CPU time and run_delay of process pid's leader
// thread (/proc/PID/schedstat, ns).
func schedstat(pid int) (cpu, delay time.Duration, err error) {
	f := strings.Fields(readFile("/proc/" + strconv.Itoa(pid) + "/schedstat"))
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("/proc/%d/schedstat: %q", pid, f)
	}
	c, err1 := strconv.ParseInt(f[0], 10, 64)
	d, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("/proc/%d/schedstat: %q", pid, f)
	}
	return time.Duration(c), time.Duration(d), nil
}

func readFile(name string) string {
	b, _ := os.ReadFile(name)
	return string(b)
}

func sec(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// pct is how far got is from want, in percent of want.
func pct(got, want time.Duration) string {
	if want <= 0 {
		return "—"
	}
	return fmt.Sprintf("%+.1f%%", 100*(float64(got)/float64(want)-1))
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func slowRead() {
	buf := make([]byte, 64<<10)
	for {
		n, err := os.Stdin.Read(buf)
		if n == 0 || err != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func slowWrite() {
	n, _ := strconv.Atoi(os.Getenv("PIPELOOP_ACC_BLOCKS"))
	buf := make([]byte, 64<<10)
	for range n {
		time.Sleep(time.Millisecond)
		if _, err := os.Stdout.Write(buf); err != nil {
			return
		}
	}
}
