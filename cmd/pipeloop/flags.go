//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/pipeloop/pipeloop/internal/cmdline"
	"github.com/pipeloop/pipeloop/internal/label"
	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/server"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

const usage = `pipeloop relays bytes between processes through one epoll event loop.

Usage:
  pipeloop [flags]              relay stdin to stdout (A | pipeloop | B)
  pipeloop [flags] STAGE...     run STAGEs as a pipeline, relaying between them
  pipeloop trace --pid PID...   trace pipe stalls of running processes
                                (see pipeloop trace --help)
  pipeloop serve --listen ADDR STAGE...
                                run STAGEs for every connection to ADDR
                                (see pipeloop serve --help)
  pipeloop ctl --pid PID        show a running pipeloop's stats, change
                                its rate limit (see pipeloop ctl --help)

Each STAGE is one command line, split into words as a POSIX shell would
(quotes and backslashes; nothing is expanded) and run directly from PATH.
Stage 1 reads pipeloop's stdin and the last stage writes its stdout
directly; pipeloop relays every pipe in between.

Flags:
  --mode MODE        data path: auto, copy or splice (default auto:
                     splice when an end is a pipe, else copy)
  --buffer SIZE      ring buffer per link; more than 4096 bytes, rounded
                     up to a power of two (default 128K, and 1M for a
                     link lending pages to a pipe: see --vmsplice)
  --pipe-size SIZE   capacity of the pipes pipeloop creates and of its own
                     stdin/stdout when they are pipes, at most
                     /proc/sys/fs/pipe-max-size; 0 keeps the kernel's
                     (default 1M). Without privilege the pipes between
                     stages start at the kernel's and grow while busy,
                     within half the user's pipe budget
  --vmsplice=false   when copying into a pipe, always write; by default
                     whole pages of the ring are lent to the pipe with
                     vmsplice(2) instead of copied (needs transparent
                     huge pages; a busy lending link maps two of them,
                     4 MiB on x86-64, and never reuses a lent page)
  --uring=false      keep small messages between two pipes on epoll and
                     splice; by default a link carrying them moves them
                     through io_uring, one system call each, or, alone on
                     its loop, by a read(2) that sleeps and a write, for
                     the lowest latency (Linux 6.1 or later, where io_uring
                     is allowed; bulk data is always spliced)
  --busy-poll D      after an event, poll without sleeping for up to D
                     (e.g. 50us) for lower latency at the cost of CPU
  --sched POLICY     loop thread scheduling: auto, normal or batch
                     (default auto: SCHED_BATCH while moving bulk data,
                     so each wake-up moves more; normal for small messages)
  --stats            print per-link and per-stage statistics and the
                     bottleneck verdict on stderr at exit
  --stats-json FILE  write the same as JSON to FILE at exit ('-' for
                     stderr); the schema is in README.md
  --progress         show bytes moved and rates per link on stderr while
                     running: redrawn in place on a terminal, one line
                     a second otherwise; with a known total (stdin a
                     regular file, or --size) the share done and the ETA
  --rate-limit RATE  let each link take at most RATE bytes a second
                     (64K, 10M, 1G; /s optional), steady over 100 ms;
                     change it while running with pipeloop ctl
  --lines            count lines ('\n') too, shown by --progress and
                     --stats; links then copy (not with --mode splice)
  --progress-json FILE
                     write the same as JSON lines to FILE, one a
                     second and a final one ('-' for stderr, /dev/fd/N
                     for an inherited fd); the schema is in README.md
  --size SIZE        the input's size, for --progress's percentage and
                     ETA when stdin is not a regular file (a regular
                     file's size is known)
  --shell            run each STAGE with /bin/sh -c
  --kill-grace D     how long stages may outlive a SIGTERM pipeloop
                     passed on before they get SIGKILL (default 2s)
  --trace            trace pipe stalls of pipeloop and the stages with
                     eBPF (root or CAP_BPF+CAP_PERFMON) and print who
                     waited on a full or empty pipe at exit
  --version          print the version and exit
  --help             print this help and exit

Sizes: 65536, 64K, 64KiB, 1M, 1MiB, 1G (K, M, G are powers of 1024).

Exit status: as bash with 'set -o pipefail': 0 when every stage
succeeds, else the status of the rightmost failing stage (128+N when
killed by signal N), which pipeloop does not comment on, as bash does
not. A stage killed by SIGPIPE because the next stage finished early
is not a failure. pipeloop's own failures are named on stderr: 127
command not found, 126 command not executable, 2 usage error, 1 relay
error. In stdin mode, 141 when stdout's reader leaves early, as for cat.

Signals: a signal that would end a shell pipeline (SIGINT, SIGTERM,
SIGHUP, SIGQUIT, SIGUSR2, SIGALRM...) is passed on to every stage and
the stages' children, and pipeloop then ends as the stages did: killed
by that signal if they were. If pipeloop is killed, so are the stages.
SIGUSR1 is the exception, as for dd: it prints the --stats tables on
stderr, and pipeloop goes on (pipeloop ctl --pid PID asks the same from
another terminal, and changes --rate-limit while running).
`

// options are the parsed flags.
type options struct {
	relayFlags
	pvFlags
	stats     bool
	statsJSON string // --stats-json file, "-" for stderr
	progress  bool
	trace     bool
	version   bool
	killGrace time.Duration // SIGTERM to SIGKILL for stages that outlive it
}

// relayFlags are the flags pipeline mode and serve mode share: how links
// move data, how the loop thread runs, and how STAGEs are read.
type relayFlags struct {
	mode     relay.Mode
	buffer   int
	pipeSize int
	busyPoll time.Duration
	sched    loop.Sched
	vmsplice bool // lend whole ring pages to pipe sinks (relay.Options.NoVmsplice unset)
	uring    bool // small messages between pipes through io_uring (relay.Options.URing)
	shell    bool
	stages   []string // the STAGE arguments
}

// register adds the shared flags to fs; the fields' current values are
// the defaults.
func (o *relayFlags) register(fs *flag.FlagSet) {
	fs.TextVar(&o.mode, "mode", o.mode, "")
	fs.Var(sizeFlag{&o.buffer, 4097, "more than 4096 (PIPE_BUF)"}, "buffer", "")
	fs.Var(sizeFlag{&o.pipeSize, 0, "0 or more"}, "pipe-size", "")
	fs.DurationVar(&o.busyPoll, "busy-poll", 0, "")
	fs.TextVar(&o.sched, "sched", o.sched, "")
	fs.BoolVar(&o.vmsplice, "vmsplice", true, "")
	fs.BoolVar(&o.uring, "uring", true, "")
	fs.BoolVar(&o.shell, "shell", false, "")
}

// relayOptions are the relay.Options the flags ask for.
func (o *relayFlags) relayOptions() relay.Options {
	return relay.Options{Mode: o.mode, BufferSize: o.buffer, PipeSize: pipeSizeOpt(o.pipeSize), NoVmsplice: !o.vmsplice,
		URing: o.uring}
}

// parseFlagSet parses args with fs (cmdline.ParseFlags: one-line usage
// errors, errHelp for --help) and rejects a flag written after a STAGE.
func parseFlagSet(fs *flag.FlagSet, args []string) error {
	err := cmdline.ParseFlags(fs, args)
	switch {
	case err == nil:
		return misplacedFlag(fs, args)
	case errors.Is(err, flag.ErrHelp):
		return errHelp
	}
	return err
}

// errHelp asks for the help text.
var errHelp = errors.New("help requested")

type sizeFlag struct {
	v   *int
	min int64
	why string
}

func (f sizeFlag) String() string { return "" }
func (f sizeFlag) Set(s string) error {
	n, err := cmdline.ParseSize(s)
	if err != nil {
		return err
	}
	if n < f.min {
		return fmt.Errorf("%s must be %s", s, f.why)
	}
	if n > 1<<30 {
		return fmt.Errorf("%s is larger than 1G", s)
	}
	*f.v = int(n)
	return nil
}

// parseFlags parses args. Usage errors come back as one-line errors.
func parseFlags(args []string) (*options, error) {
	o := &options{relayFlags: relayFlags{mode: relay.ModeAuto, pipeSize: relay.DefaultPipeSize}, killGrace: server.DefaultKillGrace}
	fs := flag.NewFlagSet("pipeloop", flag.ContinueOnError)
	o.relayFlags.register(fs)
	o.pvFlags.register(fs)
	fs.BoolVar(&o.stats, "stats", false, "")
	fs.StringVar(&o.statsJSON, "stats-json", "", "")
	fs.BoolVar(&o.progress, "progress", false, "")
	fs.BoolVar(&o.trace, "trace", false, "")
	fs.BoolVar(&o.version, "version", false, "")
	fs.DurationVar(&o.killGrace, "kill-grace", o.killGrace, "")
	if err := parseFlagSet(fs, args); err != nil {
		return nil, err
	}
	if err := helpStage(fs, args); err != nil {
		return nil, err
	}
	if o.killGrace <= 0 {
		return nil, errors.New("--kill-grace must be positive")
	}
	if o.busyPoll < 0 {
		return nil, errors.New("--busy-poll must not be negative")
	}
	o.stages = fs.Args()
	if err := o.pvFlags.check(o); err != nil {
		return nil, err
	}
	return o, nil
}

// parseStages turns the STAGE arguments into commands.
func parseStages(o *relayFlags) ([]relay.Stage, error) {
	stages := make([]relay.Stage, 0, len(o.stages))
	for i, s := range o.stages {
		if o.shell {
			stages = append(stages, relay.Stage{Args: []string{"/bin/sh", "-c", s}, Name: s})
			continue
		}
		words, err := cmdline.Split(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label.Stage(i+1, s), err)
		}
		if len(words) == 0 {
			return nil, fmt.Errorf("stage %d is empty", i+1)
		}
		stages = append(stages, relay.Stage{Args: words, Name: s})
	}
	return stages, nil
}
