//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/pipeloop/pipeloop/internal/cmdline"
	"github.com/pipeloop/pipeloop/trace"
)

const traceUsage = `pipeloop trace measures, with eBPF, how long running processes wait on
pipes.

Usage:
  pipeloop trace --pid PID[,PID...] [flags]

For each watched process: the time it was blocked writing a full pipe,
reading an empty pipe, or waiting in epoll/poll/select or for io_uring
completions, as a table per process and per pipe, printed when
--duration ends, when every watched process has exited, or on Ctrl-C.
Needs root or CAP_BPF+CAP_PERFMON, Linux 5.15+ with BTF, amd64.

Flags:
  --pid PID[,PID...] processes to watch (may be repeated)
  --follow-children  also watch the processes they fork from now on
  --duration D       stop after D (e.g. 10s); 0 means no limit (default 0)
  --max-records N    keep at most N (process, pipe, direction) records
                     (default 16384, ~420 bytes each); waits past it are
                     counted as dropped
  --json             print JSON instead of tables (schema pipeloop-trace,
                     documented in README.md)
  --help             print this help and exit

Exit status: 0 after printing the report; 1 when tracing cannot start
(the reason named on stderr); 2 on a usage error.
`

// pidList is a flag.Value collecting --pid 1,2 --pid 3.
type pidList []int

func (p *pidList) String() string { return fmt.Sprint([]int(*p)) }

func (p *pidList) Set(s string) error {
	for f := range strings.SplitSeq(s, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || pid <= 0 {
			return fmt.Errorf("invalid pid %q", f)
		}
		*p = append(*p, pid)
	}
	return nil
}

// parseTraceFlags parses the arguments after "trace" into the command.
func parseTraceFlags(args []string) (trace.Command, error) {
	c := trace.Command{MaxRecords: trace.DefaultMaxRecords}
	fs := flag.NewFlagSet("pipeloop trace", flag.ContinueOnError)
	fs.Var((*pidList)(&c.PIDs), "pid", "")
	fs.BoolVar(&c.FollowChildren, "follow-children", false, "")
	fs.DurationVar(&c.Duration, "duration", 0, "")
	fs.BoolVar(&c.JSON, "json", false, "")
	fs.IntVar(&c.MaxRecords, "max-records", c.MaxRecords, "")
	if err := cmdline.ParseFlags(fs, args); err != nil { // no STAGEs: no misplacedFlag
		if errors.Is(err, flag.ErrHelp) {
			return c, errHelp
		}
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.MaxRecords == 0 { // 0 is Command's default, not a limit of none
		return c, errors.New("--max-records must be at least 1")
	}
	return c, c.Check()
}

// runTrace is `pipeloop trace` (args are those after "trace"): the
// report on std.text, and nil once it is printed; else an error carrying
// the exit status, 1 when tracing cannot start, 2 for a usage error. The
// tracing itself is trace.Command.Run.
func runTrace(ctx context.Context, args []string, std stdio) error {
	const prog = "pipeloop trace"
	c, err := parseTraceFlags(args)
	if done, err := parsed(err, prog, traceUsage, std); done {
		return err
	}
	c.Warn = func(err error) { fmt.Fprintf(std.err, "%s: %v; not traced\n", prog, err) }
	if err := c.Run(ctx, std.text, std.err); err != nil {
		return failure(prog, 1, err)
	}
	return nil
}
