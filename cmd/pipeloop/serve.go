//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
	"unsafe"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/server"
	"golang.org/x/sys/unix"
)

const serveUsage = `pipeloop serve runs a pipeline for every connection, relaying through one
epoll event loop on one thread.

Usage:
  pipeloop serve --listen ADDR [flags] STAGE...

Bytes from the client reach stage 1's stdin; stage N's stdout goes back
to the client. Half-close works both ways: the client's shutdown(SHUT_WR)
gives stage 1 end of file, and stage N's end of file becomes
shutdown(SHUT_WR) to the client after the last byte. A client that goes
away has its stages terminated (SIGTERM, SIGKILL --kill-grace later).
Stages share pipeloop's stderr, and find the client's address in
PIPELOOP_PEER and the connection's number in PIPELOOP_CONN. STAGEs are
split as in pipeline mode.

Flags:
  --listen ADDR      host:port, :port (host 127.0.0.1: all interfaces only
                     when asked, as 0.0.0.0:port or [::]:port) or
                     unix:/path; or an inherited listening socket:
                     systemd (socket activation: LISTEN_PID, LISTEN_FDS),
                     systemd:NAME (by LISTEN_FDNAMES) or fd:N
  --max-conns N      serve at most N connections at once (default 0: no
                     limit); beyond it new connections wait in the listen
                     backlog and are accepted as others end; when the
                     backlog is full too the kernel drops their SYNs and
                     clients retry
  --backlog N        listen backlog (default 4096, capped by
                     net.core.somaxconn)
  --idle-timeout D   terminate a connection's stages when no byte has
                     moved to or from the client for D (default 0: never)
  --grace D          on SIGTERM, SIGINT or SIGHUP stop accepting and let
                     open connections finish for D, then terminate their
                     stages (default 10s); a second signal terminates
                     them at once
  --kill-grace D     SIGTERM to SIGKILL delay when stages are terminated
                     (default 2s)
  --metrics ADDR     serve Prometheus metrics at http://ADDR/metrics
                     (ADDR as for --listen)
  --log FORMAT       per-connection log lines on stderr: text, json or
                     off (default text)
  --mode MODE        data path: auto, copy or splice (default auto)
  --buffer SIZE      ring buffer per busy link in copy mode (default 64K)
  --pipe-size SIZE   capacity of the pipes to and from the stages, as in
                     pipeline mode; 0 keeps the kernel's (default 0)
  --sched POLICY     loop thread scheduling: auto, normal or batch
  --busy-poll D      poll without sleeping for up to D after an event
  --shell            run each STAGE with /bin/sh -c
  --help             print this help and exit

Log lines (one per event): "conn start" (conn, peer, pids), "conn end"
(conn, peer, reason eof|reset|idle|shutdown|error, exit as for pipeline
mode, per-stage statuses, bytes in and out, duration).

Exit status: 0 after a signal once every connection is over; 2 on a
usage error; 1 when the address cannot be listened on.
`

// serveOptions are the parsed serve flags.
type serveOptions struct {
	relayFlags
	listen, metrics string
	maxConns        int
	backlog         int
	idle, grace     time.Duration
	killGrace       time.Duration
	logFormat       string
}

func parseServeFlags(args []string) (*serveOptions, error) {
	o := &serveOptions{grace: 10 * time.Second, killGrace: server.DefaultKillGrace, logFormat: "text",
		relayFlags: relayFlags{buffer: 64 << 10}, backlog: 4096}
	fs := flag.NewFlagSet("pipeloop serve", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "", "")
	fs.StringVar(&o.metrics, "metrics", "", "")
	fs.IntVar(&o.maxConns, "max-conns", 0, "")
	fs.IntVar(&o.backlog, "backlog", 4096, "")
	fs.DurationVar(&o.idle, "idle-timeout", 0, "")
	fs.DurationVar(&o.grace, "grace", o.grace, "")
	fs.DurationVar(&o.killGrace, "kill-grace", o.killGrace, "")
	fs.StringVar(&o.logFormat, "log", o.logFormat, "")
	o.register(fs)
	if err := parseFlagSet(fs, args); err != nil {
		return nil, err
	}
	o.stages = fs.Args()
	switch {
	case o.listen == "":
		return nil, errors.New("--listen ADDR is required")
	case len(o.stages) == 0:
		return nil, errors.New("at least one STAGE is required")
	case o.maxConns < 0:
		return nil, errors.New("--max-conns must not be negative")
	case o.backlog <= 0:
		return nil, errors.New("--backlog must be positive")
	case o.idle < 0 || o.grace < 0 || o.killGrace < 0 || o.busyPoll < 0:
		return nil, errors.New("durations must not be negative")
	case o.logFormat != "text" && o.logFormat != "json" && o.logFormat != "off":
		return nil, fmt.Errorf("unknown log format %q (want text, json or off)", o.logFormat)
	}
	return o, nil
}

// runServe is `pipeloop serve`; it returns nil once every connection is
// over after a signal, else an error carrying the exit status.
func runServe(args []string, std stdio) error {
	const prog = "pipeloop serve"
	o, err := parseServeFlags(args)
	if done, err := parsed(err, prog, serveUsage, std); done {
		return err
	}
	stages, err := parseStages(&o.relayFlags)
	if err != nil {
		return failure(prog, 2, err)
	}
	if _, err := relay.Resolve(stages); err != nil {
		var se *relay.StartError
		if errors.As(err, &se) {
			return failure(prog, se.Code, err)
		}
		return failure(prog, 2, err)
	}
	if err := fdio.CloexecFrom(3); err != nil {
		return failure(prog, 1, err)
	}
	raiseNoFile()
	// As in pipeline mode: EPIPE instead of death by SIGPIPE, and a
	// handler (not SIG_IGN) so the stages get the default back at exec.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	logw := newAsyncWriter(std.err, 4096)
	defer logw.Close()
	log := newServeLogger(logw, o.logFormat)

	ln, err := server.Listen(o.listen, server.ListenConfig{Backlog: o.backlog})
	if err != nil {
		return failure(prog, 1, err)
	}
	l, err := loop.New(loop.Options{BusyPoll: o.busyPoll, Sched: o.sched})
	if err != nil {
		ln.Close()
		return failure(prog, 1, err)
	}
	srv, stopMetrics, err := startServer(o, stages, ln, l, log)
	if err != nil {
		ln.Close() // one path: neither the server nor the loop ever ran
		l.Close()
		return err
	}
	defer stopMetrics()
	l.Post(nameThread)
	log.info("listening", slog.String("addr", ln.Addr().String()), slog.Int("max_conns", o.maxConns))

	done := make(chan struct{})
	defer close(done)
	signals := 0
	go forward(l, sigs, done, func(sig syscall.Signal) {
		signals++
		grace := o.grace
		if signals > 1 {
			grace = 0
		}
		log.info("shutting down", slog.String("signal", sig.String()), slog.Int("open", srv.Open()),
			slog.Duration("grace", grace))
		srv.Shutdown(grace, l.Stop)
	})
	if err := runLoop(l, func() {}); err != nil {
		return failure(prog, 1, err)
	}
	return nil
}

// startServer puts a relay and a server for ln on l, and the metrics
// endpoint if asked for; stopMetrics ends that. An error carries the exit
// status; the caller closes ln and l.
func startServer(o *serveOptions, stages []relay.Stage, ln *server.Listener, l *loop.Loop, log *serveLogger) (
	srv *server.Server, stopMetrics func(), err error) {
	const prog = "pipeloop serve"
	ropts := o.relayOptions()
	ropts.Warn = log.warn
	ropts.AsyncSpawn = true // forks off the loop thread: arrivals never stall established connections
	r, err := relay.New(l, ropts)
	if err != nil {
		return nil, nil, failure(prog, 2, err)
	}
	srv, err = server.New(r, ln, server.Config{
		Stages: stages, Stderr: 2, PeerEnv: true, MaxConns: o.maxConns, IdleTimeout: o.idle, KillGrace: o.killGrace,
		OnStart: log.start, OnEnd: log.end, OnError: log.error,
	})
	if err != nil {
		return nil, nil, failure(prog, 1, err)
	}
	stopMetrics = func() {}
	if o.metrics != "" {
		if stopMetrics, err = serveMetrics(o.metrics, l, srv, log); err != nil {
			return nil, nil, failure(prog, 1, err)
		}
	}
	return srv, stopMetrics, nil
}

// nameThread names the loop thread "pipeloop-loop" (in /proc/PID/task/
// TID/comm), so that tools and tests can tell it from the Go runtime's.
func nameThread() {
	name := []byte("pipeloop-loop\x00")
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)
}

// raiseNoFile lifts the soft RLIMIT_NOFILE to the hard one: every
// connection costs a socket, two pipe ends and a pidfd per stage. (Go
// already does this at startup and gives children the original limit
// back; this keeps it explicit.)
func raiseNoFile() {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		unix.Setrlimit(unix.RLIMIT_NOFILE, &rl)
	}
}
