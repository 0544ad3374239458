//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pipeloop/pipeloop/internal/cmdline"
)

const ctlUsage = `pipeloop ctl asks a running pipeloop where it stands, or changes its
rate limit, without restarting it.

Usage:
  pipeloop ctl --pid PID [--stats] [--rate-limit RATE]

The pipeloop must run as the same user (or the caller as root). It
listens on the abstract unix socket @pipeloop/PID while it relays
(stdin and pipeline modes). Without a flag, --stats.

Flags:
  --pid PID          the pipeloop to ask
  --stats            print its --stats tables now (also: kill -USR1 PID
                     prints them on its own stderr)
  --rate-limit RATE  set every link's rate limit to RATE bytes a second
                     (64K, 10M; 0 lifts it), effective at once
  --help             print this help and exit
`

// runCtl is pipeloop ctl.
func runCtl(args []string, std stdio) error {
	const prog = "pipeloop ctl"
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	pid := fs.Int("pid", 0, "")
	stats := fs.Bool("stats", false, "")
	rate := int64(-1)
	fs.Var(rateFlag{&rate}, "rate-limit", "")
	err := cmdline.ParseFlags(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, err := io.WriteString(std.text, ctlUsage)
		return err
	case err != nil:
		return usageError(prog, err)
	case fs.NArg() > 0:
		return usageError(prog, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	case *pid <= 0:
		return usageError(prog, errors.New("--pid PID is required"))
	}
	var reqs []string
	if rate >= 0 {
		reqs = append(reqs, "rate-limit "+strconv.FormatInt(rate, 10))
	}
	if *stats || len(reqs) == 0 {
		reqs = append(reqs, "stats")
	}
	for _, req := range reqs {
		answer, err := ctlRequest(*pid, req)
		if err != nil {
			return failure(prog, 1, err)
		}
		if msg, refused := strings.CutPrefix(answer, "error: "); refused {
			return failure(prog, 1, fmt.Errorf("pid %d: %s", *pid, strings.TrimSpace(msg)))
		}
		if !strings.HasPrefix(answer, "ok: ") {
			io.WriteString(std.text, answer)
		}
	}
	return nil
}

// ctlRequest sends one request to pid's control socket and returns the
// answer.
func ctlRequest(pid int, req string) (string, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: ctlAddr(pid), Net: "unix"})
	if err != nil {
		return "", fmt.Errorf("pid %d: no pipeloop listening (connect %s: %w)", pid, ctlAddr(pid), errors.Unwrap(errors.Unwrap(err)))
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ctlTimeout + time.Second))
	if _, err := io.WriteString(c, req+"\n"); err != nil {
		return "", fmt.Errorf("pid %d: write: %w", pid, err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return "", fmt.Errorf("pid %d: read: %w", pid, err)
	}
	return string(b), nil
}
