//go:build linux

package trace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Command is `pipeloop trace` with its flags parsed (cmd/pipeloop parses
// them and prints what Run returns).
type Command struct {
	PIDs           []int         // processes to watch
	FollowChildren bool          // also watch the processes they fork from now on
	Duration       time.Duration // stop after it; 0: no limit
	JSON           bool          // print JSON (schema pipeloop-trace) instead of tables
	MaxRecords     int           // records kept (Options.MaxRecords); 0: DefaultMaxRecords

	// Warn, if set, is told of each pid found gone at the start: it is
	// skipped, as the others are still worth tracing.
	Warn func(error)
}

// Check returns what is wrong with c as a command line, before anything
// is loaded: no pid, a pid below 1, a negative duration, MaxRecords out of
// range.
func (c Command) Check() error {
	switch {
	case len(c.PIDs) == 0:
		return errors.New("--pid is required")
	case c.Duration < 0:
		return errors.New("--duration must not be negative")
	case c.MaxRecords < 0 || c.MaxRecords > maxLimit:
		return fmt.Errorf("--max-records must be in 1..%d", maxLimit)
	}
	for _, pid := range c.PIDs {
		if pid <= 0 {
			return fmt.Errorf("invalid pid %d", pid)
		}
	}
	return nil
}

// pollInterval is how often Run checks whether every watched process has
// exited.
const pollInterval = 100 * time.Millisecond

// Run traces c.PIDs and writes the report to stdout. It writes "tracing N
// process(es); Ctrl-C to stop" to progress once it watches. It stops at
// the end of c.Duration, when ctx is done (Ctrl-C under
// signal.NotifyContext) or when no watched process is left. It returns an
// error when tracing cannot start (each pid gone, joined, when none was
// left to watch: a zombie is gone too; c.Warn gets them when some are
// left) or the report cannot be written; the errors' text leaves
// out the package's "trace: " prefix, for a line that names the command.
func (c Command) Run(ctx context.Context, stdout, progress io.Writer) error {
	if err := c.Check(); err != nil {
		return err
	}
	records := c.MaxRecords
	if records == 0 {
		records = DefaultMaxRecords
	}
	t, err := New(Options{FollowChildren: c.FollowChildren, MaxProcesses: maxProcesses(len(c.PIDs), c.FollowChildren), MaxRecords: records})
	if err != nil {
		return commandError{err}
	}
	defer t.Close()
	// A pid that is gone is skipped: the others are still worth tracing.
	var missing []error
	for _, pid := range c.PIDs {
		switch err := t.Watch(pid); {
		case errors.Is(err, syscall.ESRCH):
			missing = append(missing, commandError{err})
		case err != nil:
			return commandError{err}
		}
	}
	// Watch leaves out a process that has exited (a zombie): it is as
	// gone as a missing pid. A pid named twice, or two threads of one
	// process, is one process.
	watched, err := t.Watched()
	if err != nil {
		return commandError{err}
	}
	for i, pid := range c.PIDs {
		if tgid, err := threadGroup(pid); err == nil && !slices.Contains(watched, tgid) && !slices.Contains(c.PIDs[:i], pid) {
			missing = append(missing, commandError{fmt.Errorf("trace: watch pid %d: %w: it has exited (a zombie)", pid, syscall.ESRCH)})
		}
	}
	if len(watched) == 0 {
		if len(missing) == 0 { // all exited, and were reaped, since Watch
			return commandError{fmt.Errorf("trace: watch pids %v: %w: they have exited", c.PIDs, syscall.ESRCH)}
		}
		return errors.Join(missing...)
	}
	for _, err := range missing {
		if c.Warn != nil {
			c.Warn(err)
		}
	}
	fmt.Fprintf(progress, "tracing %d process(es); Ctrl-C to stop\n", len(watched))
	if err := waitDone(ctx, t, c.Duration); err != nil {
		return commandError{err}
	}
	r, err := t.Snapshot()
	if err != nil {
		return commandError{err}
	}
	if c.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(r.JSON(nil))
	} else {
		err = r.WriteTable(stdout, nil)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// commandError is an error of this package as Run returns it: its text
// without the "trace: " prefix, errors.Is and As reaching the original.
type commandError struct{ err error }

func (e commandError) Error() string { return message(e.err) }
func (e commandError) Unwrap() error { return e.err }

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
