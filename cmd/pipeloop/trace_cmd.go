//go:build linux

package main

import (
	"context"
	"io"

	"github.com/pipeloop/pipeloop/trace"
)

// runTrace implements `pipeloop trace --pid PID[,PID...] [--follow-children]
// [--duration D] [--json]` (args are those after "trace") and returns the
// exit status: 0 after printing the report, 1 when tracing cannot start
// (one line on stderr), 2 for a usage error. The logic lives in
// trace.RunCommand so the trace package's tests cover it.
func runTrace(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return trace.RunCommand(ctx, args, stdout, stderr)
}
