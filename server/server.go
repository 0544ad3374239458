//go:build linux

package server

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// DefaultKillGrace is how long terminated stages get between SIGTERM and
// SIGKILL.
const DefaultKillGrace = 2 * time.Second

// Config describes what a Server does with each connection.
type Config struct {
	// Stages run for every connection: bytes from the client reach stage
	// 1's stdin, stage N's stdout goes back to the client.
	Stages []relay.Stage
	Env    []string // the stages' environment; nil: this process's, read once by New
	Dir    string   // the stages' working directory; "": this process's
	Stderr int      // fd the stages' stderr goes to; 0 means 2
	// PeerEnv adds PIPELOOP_PEER (the client's address, as Conn.Peer) and
	// PIPELOOP_CONN (Conn.ID) to each connection's stage environment, as
	// inetd-style servers tell a CGI-like worker who called.
	PeerEnv bool

	// MaxConns caps the open connections (0: no cap). At the cap the
	// listener stops accepting, so new clients wait in the kernel's listen
	// backlog (ListenConfig.Backlog) and are served as others close; when
	// the backlog is full too, the kernel drops their SYNs and TCP clients
	// retry (unix-socket clients get EAGAIN or block in connect).
	MaxConns int
	// IdleTimeout, when positive, terminates a connection's stages once
	// no byte has moved to or from the client for that long (checked
	// every IdleTimeout/4).
	IdleTimeout time.Duration
	// KillGrace is the delay between SIGTERM and SIGKILL when stages are
	// terminated (client gone, idle, shutdown). Default DefaultKillGrace.
	KillGrace time.Duration

	// Prepare, when set, runs before a connection's pipeline starts and may
	// adjust its configuration (stages, environment…) for that client; an
	// error refuses the connection (it is closed and ends with ReasonError).
	// Setting cfg.In (or cfg.Out) to nil leaves that direction out: stage 1
	// reads /dev/null (stage N writes it) unless cfg.Stdin (Stdout) says
	// otherwise, and the direction's counters stay zero.
	Prepare func(c *Conn, cfg *relay.PipelineConfig) error
	// OnStart runs when a connection's stages have been forked (Conn.Pids
	// known; with relay.Options.AsyncSpawn that is after the accept
	// handler returned) or its pipeline failed to start (see Conn.Err),
	// OnEnd when the connection is over: stages reaped, links done, socket
	// closed. Both run on the loop goroutine, OnStart first.
	OnStart, OnEnd func(*Conn)
	// OnError hears of errors that are nobody's connection: accept
	// failures (accepting pauses briefly after EMFILE and the like).
	OnError func(error)
}

// Server serves connections from one Listener on one loop: every accepted
// connection gets its own pipeline of stages, with the socket as the
// pipeline's In and Out (see relay.PipelineConfig). It creates no
// goroutine. All methods are for the loop goroutine (or before Run).
type Server struct {
	r        *relay.Relay
	l        *loop.Loop
	ln       *Listener
	cfg      Config
	conns    map[*Conn]struct{} // open connections
	nextID   uint64
	totals   totals      // counters of connections already closed
	draining bool        // Shutdown was called
	grace    *loop.Timer // Shutdown's grace period
	drained  func()      // Shutdown's callback
}

// New starts serving ln on r's loop with cfg. The Server takes ownership
// of ln on every outcome, as http.Server.Serve does with its listener:
// once New succeeds, Shutdown and the loop's stop close it; when New
// fails, it has closed ln already (a unix socket's file is removed), so
// the caller only returns the error (a later ln.Close does nothing). Loop
// goroutine only, or before Run.
func New(r *relay.Relay, ln *Listener, cfg Config) (_ *Server, err error) {
	defer func() {
		if err != nil && ln != nil && ln.made() {
			ln.Close()
		}
	}()
	switch {
	case r == nil || r.Loop() == nil:
		return nil, errors.New("server: New needs a relay made by relay.New")
	case ln == nil || !ln.made():
		return nil, fmt.Errorf("server: %w", zeroErr("Listener", "Listen"))
	}
	if len(cfg.Stages) == 0 && cfg.Prepare == nil {
		return nil, errors.New("server: no stages")
	}
	if len(cfg.Stages) > 0 {
		if _, err := relay.Resolve(cfg.Stages); err != nil {
			return nil, err
		}
	}
	if cfg.Env == nil {
		cfg.Env = os.Environ()
	}
	if cfg.Stderr == 0 {
		cfg.Stderr = 2
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = DefaultKillGrace
	}
	s := &Server{r: r, l: r.Loop(), ln: ln, cfg: cfg, conns: make(map[*Conn]struct{})}
	s.totals.init()
	if err := ln.Serve(s.l, s.accept, s.onError); err != nil {
		return nil, err
	}
	s.l.OnStop(s.abort)
	return s, nil
}

// Listener is the server's listener (nil for a zero Server).
func (s *Server) Listener() *Listener { return s.ln }

// made reports whether New made s, rather than it being a zero Server.
func (s *Server) made() bool { return s != nil && s.l != nil }

// assertLoop is the loop's thread check (loop.AssertLoopThread) for a
// loop-only method of a Server New made.
func (s *Server) assertLoop(method string) {
	if s.made() {
		s.l.AssertLoopThread(method)
	}
}

// Open is the number of open connections. Loop goroutine only.
func (s *Server) Open() int {
	s.assertLoop("server.Open")
	return len(s.conns)
}

// Conns calls f for every open connection, in no particular order. Loop
// goroutine only.
func (s *Server) Conns(f func(*Conn)) {
	s.assertLoop("server.Conns")
	for c := range s.conns {
		f(c)
	}
}

func (s *Server) onError(err error) {
	s.totals.acceptErrors++
	if s.cfg.OnError != nil {
		s.cfg.OnError(err)
	}
}

// accept starts a connection's pipeline.
func (s *Server) accept(fd int, peer unix.Sockaddr) {
	if s.draining {
		unix.Close(fd)
		return
	}
	s.nextID++
	c := &Conn{s: s, fd: fd, ID: s.nextID, Peer: AddrOf(peer).String(), Start: time.Now()}
	s.conns[c] = struct{}{}
	s.totals.accepted++
	if s.cfg.MaxConns > 0 && len(s.conns) >= s.cfg.MaxConns {
		s.ln.hold(true)
	}
	c.start()
}

// closed is called by a connection once it is over.
func (s *Server) closed(c *Conn) {
	delete(s.conns, c)
	s.totals.add(c)
	if s.cfg.OnEnd != nil {
		s.cfg.OnEnd(c)
	}
	if s.draining {
		if len(s.conns) == 0 {
			s.finishDrain()
		}
		return
	}
	if s.ln.full && len(s.conns) < s.cfg.MaxConns {
		s.ln.hold(false) // the owner's Pause, if any, stays
	}
}

// Shutdown stops accepting (the listener is closed; connections still in
// its backlog are reset), lets open connections finish for up to grace,
// then terminates their stages (SIGTERM, SIGKILL after KillGrace). done,
// if not nil, runs on the loop goroutine once every connection is over.
// Calling Shutdown again only shortens the grace period. On a zero
// Server, Shutdown returns an error wrapping os.ErrInvalid and done never
// runs; otherwise it returns nil.
func (s *Server) Shutdown(grace time.Duration, done func()) error {
	if !s.made() {
		return fmt.Errorf("shutdown: %w", zeroErr("Server", "New"))
	}
	s.assertLoop("server.Shutdown")
	if s.draining {
		if s.grace != nil {
			s.grace.Reset(grace)
		}
		return nil
	}
	s.draining = true
	s.drained = done
	s.ln.Close()
	if len(s.conns) == 0 {
		s.l.RunSoon(s.finishDrain)
		return nil
	}
	s.grace = s.l.AfterFunc(grace, func() {
		for c := range s.conns {
			c.Terminate(ReasonShutdown)
		}
	})
	return nil
}

func (s *Server) finishDrain() {
	if s.grace != nil {
		s.grace.Stop()
	}
	if f := s.drained; f != nil {
		s.drained = nil
		f()
	}
}

// abort runs when the loop stops: the relay's Close (registered with the
// loop before the server's abort, and run again here in case) kills and
// reaps the stages and closes the links, which ends their connections;
// what is left is the listener and the sockets of connections whose
// pipeline never started.
func (s *Server) abort() {
	s.ln.Close()
	s.r.Close()
	for c := range s.conns {
		c.closeSocket()
	}
}

// String names the server for logs.
func (s *Server) String() string {
	if !s.made() {
		return "server (zero)"
	}
	return fmt.Sprintf("server %s", s.ln.Addr())
}
