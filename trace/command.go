//go:build linux

package trace

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pipeloop/pipeloop/internal/cmdline"
)

const commandUsage = `Usage: pipeloop trace --pid PID[,PID...] [--follow-children] [--duration D] [--json]

Trace running processes: how long each was blocked writing a full pipe,
reading an empty pipe, or waiting in epoll/poll/select. Prints a table per
process and per pipe when the duration ends, all watched processes have
exited, or on Ctrl-C. Needs root or CAP_BPF+CAP_PERFMON, Linux 5.15+ with
BTF, amd64.

Flags:
  --pid PID[,PID...]   processes to watch (may be repeated)
  --follow-children    also watch processes they fork from now on
  --duration D         stop after D (e.g. 10s); 0 means no limit
  --max-records N      keep at most N (process, pipe, direction) records
                       (default 16384, ~320 bytes each); waits past it are
                       counted as dropped
  --json               print JSON instead of tables (schema pipeloop-trace,
                       documented in README.md)
  --help               print this help
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

// pollInterval is how often RunCommand checks whether every watched
// process has exited.
const pollInterval = 100 * time.Millisecond

// RunCommand implements `pipeloop trace` with args after "trace". It
// returns the exit status: 0 after printing the report, 1 when tracing
// cannot start (one line on stderr), 2 for a usage error. It stops at the
// end of --duration, when ctx is done (Ctrl-C under signal.NotifyContext)
// or when no watched process is left.
func RunCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pipeloop trace", flag.ContinueOnError)
	var (
		pids     pidList
		follow   bool
		duration time.Duration
		asJSON   bool
		records  int
	)
	fs.Var(&pids, "pid", "")
	fs.BoolVar(&follow, "follow-children", false, "")
	fs.DurationVar(&duration, "duration", 0, "")
	fs.BoolVar(&asJSON, "json", false, "")
	fs.IntVar(&records, "max-records", DefaultMaxRecords, "")
	usageErr := func(msg string) int {
		fmt.Fprintf(stderr, "pipeloop trace: %s (try --help)\n", msg)
		return 2
	}
	if err := cmdline.ParseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			io.WriteString(stdout, commandUsage)
			return 0
		}
		return usageErr(err.Error())
	}
	switch {
	case fs.NArg() > 0:
		return usageErr(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case len(pids) == 0:
		return usageErr("--pid is required")
	case duration < 0:
		return usageErr("--duration must not be negative")
	case records < 1 || records > maxLimit:
		return usageErr(fmt.Sprintf("--max-records must be in 1..%d", maxLimit))
	}

	fail := func(err error) int {
		fmt.Fprintf(stderr, "pipeloop trace: %s\n", message(err))
		return 1
	}
	t, err := New(Options{FollowChildren: follow, MaxProcesses: maxProcesses(len(pids), follow), MaxRecords: records})
	if err != nil {
		return fail(err)
	}
	defer t.Close()
	// A pid that is gone is skipped: the others are still worth tracing.
	var missing []error
	watched := 0
	for _, pid := range pids {
		switch err := t.Watch(pid); {
		case errors.Is(err, syscall.ESRCH):
			missing = append(missing, err)
		case err != nil:
			return fail(err)
		default:
			watched++
		}
	}
	if watched == 0 {
		for _, err := range missing {
			fail(err)
		}
		return 1
	}
	for _, err := range missing {
		fmt.Fprintf(stderr, "pipeloop trace: %s; not traced\n", message(err))
	}
	fmt.Fprintf(stderr, "tracing %d process(es); Ctrl-C to stop\n", watched)
	if err := waitDone(ctx, t, duration); err != nil {
		return fail(err)
	}
	r, err := t.Snapshot()
	if err != nil {
		return fail(err)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(r.JSON(nil))
	} else {
		err = r.WriteTable(stdout, nil)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pipeloop trace: write report: %v\n", err)
		return 1
	}
	return 0
}

// message returns err's text without the package's "trace: " prefix, for
// a line that starts with the command's own ("pipeloop trace: ",
// "pipeloop: --trace: ").
func message(err error) string {
	return strings.TrimPrefix(err.Error(), "trace: ")
}

// Message is err's text for a line that names the command itself:
// without the "trace: " prefix errors from this package carry.
func Message(err error) string { return message(err) }

// maxProcesses sizes the watch map for n pids: room for all of them,
// and with follow, for many live descendants (a preallocated entry is
// about 64 bytes).
func maxProcesses(n int, follow bool) int {
	if follow {
		n += 1 << 16
	}
	return min(max(n, DefaultMaxProcesses), maxLimit)
}

// waitDone returns when ctx is done, duration (if > 0) has passed, or no
// watched process is left.
func waitDone(ctx context.Context, t *Tracer, duration time.Duration) error {
	var deadline <-chan time.Time
	if duration > 0 {
		timer := time.NewTimer(duration)
		defer timer.Stop()
		deadline = timer.C
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-deadline:
			return nil
		case <-tick.C:
			left, err := t.Watched()
			if err != nil {
				return err
			}
			if len(left) == 0 {
				return nil
			}
		}
	}
}
