//go:build linux

package server

import (
	"strconv"
	"syscall"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// Reason says why a connection ended.
type Reason string

const (
	ReasonEOF      Reason = "eof"      // the stages finished; output delivered
	ReasonReset    Reason = "reset"    // the client went away; stages terminated
	ReasonIdle     Reason = "idle"     // nothing moved for IdleTimeout; stages terminated
	ReasonShutdown Reason = "shutdown" // Shutdown's grace ran out; stages terminated
	ReasonError    Reason = "error"    // the pipeline could not start, or a relay error
)

// Conn is one client connection and its pipeline.
//
// Lifecycle: accepted → pipeline started (OnStart) → the links carry the
// client's bytes to stage 1 and stage N's output back, each direction
// shut down on its own at EOF → every stage reaped and both links done →
// socket closed (OnEnd). The stages are terminated early — SIGTERM, then
// SIGKILL after KillGrace — when the client goes away (a reset, or its
// reader gone while output is pending), on IdleTimeout, or when Shutdown's
// grace runs out.
//
// Fields are set by the server; read them on the loop goroutine.
type Conn struct {
	ID    uint64    // 1, 2, 3… in accept order
	Peer  string    // client address, e.g. "127.0.0.1:53112"
	Start time.Time // accepted
	End   time.Time // socket closed; zero while open
	// Reason is why the connection ended; set once it is over, or as soon
	// as its stages are being terminated.
	Reason Reason
	// Err is why the pipeline could not start, if it could not.
	Err error

	s        *Server
	fd       int // the connection's socket, owned; -1 once closed
	p        *relay.Pipeline
	idle     *loop.Timer // idle check, nil without IdleTimeout
	kill     *loop.Timer // SIGKILL after SIGTERM
	seen     uint64      // client bytes at the last idle check
	activeAt time.Time   // last idle check that saw bytes move
	final    connBytes   // In/Out counters frozen at the end
}

// connBytes are a connection's client-side counters.
type connBytes struct {
	in, out   relay.LinkStats
	haveLinks bool
}

// start launches the connection's pipeline.
func (c *Conn) start() {
	s := c.s
	in := relay.Endpoint{FD: c.fd, Name: "client " + c.Peer}
	cfg := relay.PipelineConfig{
		Stages: s.cfg.Stages, Env: s.cfg.Env, Dir: s.cfg.Dir, Stderr: relay.Inherit(s.cfg.Stderr),
		In: &in, Out: &in, ProcessGroups: true,
		OnExit:     func(*relay.Pipeline) { c.end() },
		OnLinkDone: c.linkDone,
	}
	if s.cfg.PeerEnv {
		cfg.Env = append(cfg.Env[:len(cfg.Env):len(cfg.Env)],
			"PIPELOOP_PEER="+c.Peer, "PIPELOOP_CONN="+strconv.FormatUint(c.ID, 10))
	}
	if s.cfg.Prepare != nil {
		if err := s.cfg.Prepare(c, &cfg); err != nil {
			c.failStart(err)
			return
		}
	}
	// OnStart waits for the stages to exist (their pids are logged), which
	// with relay.Options.AsyncSpawn is after StartPipeline returned.
	prepared := cfg.OnStart
	cfg.OnStart = func(p *relay.Pipeline) {
		if prepared != nil {
			prepared(p)
		}
		if s.cfg.OnStart != nil {
			s.cfg.OnStart(c)
		}
	}
	p, err := s.r.StartPipeline(cfg)
	if err != nil {
		c.failStart(err)
		return
	}
	c.p = p
	if s.cfg.IdleTimeout > 0 {
		c.activeAt = c.Start
		c.idle = s.l.AfterFunc(idleCheck(s.cfg.IdleTimeout), c.checkIdle)
	}
}

// failStart ends a connection whose pipeline did not start.
func (c *Conn) failStart(err error) {
	c.Err, c.Reason = err, ReasonError
	if c.s.cfg.OnStart != nil {
		c.s.cfg.OnStart(c)
	}
	c.closeSocket()
	c.End = time.Now()
	c.s.closed(c)
}

func idleCheck(d time.Duration) time.Duration {
	return max(d/4, 10*time.Millisecond)
}

// checkIdle terminates the stages once no client byte moved for IdleTimeout.
func (c *Conn) checkIdle() {
	if c.p == nil || c.p.Done() || c.Reason != "" {
		return
	}
	now := time.Now()
	if b := c.clientBytes(); b != c.seen {
		c.seen, c.activeAt = b, now
	}
	d := c.s.cfg.IdleTimeout
	if now.Sub(c.activeAt) >= d {
		c.Terminate(ReasonIdle)
		return
	}
	c.idle.Reset(idleCheck(d))
}

// clientBytes is the bytes moved so far in both directions.
func (c *Conn) clientBytes() uint64 {
	return linkStats(c.p.InLink()).Bytes + linkStats(c.p.OutLink()).Bytes
}

// linkDone notices a client that went away: a failed read from the
// socket (a reset) or a failed write to it (its reader gone). Stage 1
// leaving early is not the client's doing and ends nothing here.
func (c *Conn) linkDone(p *relay.Pipeline, k *relay.Link) {
	st := k.Stats()
	switch {
	case k == p.InLink() && st.Err != nil,
		k == p.OutLink() && (st.SinkClosed || st.Err != nil):
		c.Terminate(ReasonReset)
	}
}

// Terminate ends the connection early for reason: its stages get SIGTERM;
// after KillGrace, those still running get SIGKILL and the links to and
// from the client are closed, dropping what they hold (output waiting
// for a client that does not read). The connection ends (OnEnd) once
// every stage has been reaped. Terminating a connection again does
// nothing.
func (c *Conn) Terminate(reason Reason) {
	if c.Reason != "" || c.p == nil || c.p.Done() {
		return
	}
	c.Reason = reason
	c.p.Signal(syscall.SIGTERM)
	c.kill = c.s.l.AfterFunc(c.s.cfg.KillGrace, c.forceEnd)
}

// forceEnd is Terminate's second step.
func (c *Conn) forceEnd() {
	c.p.Signal(syscall.SIGKILL)
	for _, k := range []*relay.Link{c.p.InLink(), c.p.OutLink()} {
		if k != nil {
			k.Close()
		}
	}
}

// end runs when the pipeline is over: every stage reaped, every link done.
func (c *Conn) end() {
	if c.idle != nil {
		c.idle.Stop()
	}
	if c.kill != nil {
		c.kill.Stop()
	}
	c.freeze()
	if c.Reason == "" {
		c.Reason = ReasonEOF
		if c.p.ExitCode() != 0 && len(c.p.Errors()) > 0 {
			c.Reason = ReasonError
		}
	}
	c.closeSocket()
	c.End = time.Now()
	c.s.closed(c)
}

func (c *Conn) freeze() {
	if c.p == nil || c.final.haveLinks {
		return
	}
	c.final.in, c.final.out = linkStats(c.p.InLink()), linkStats(c.p.OutLink())
	c.final.haveLinks = true
}

func (c *Conn) closeSocket() {
	if c.s != nil && c.fd >= 0 { // a zero Conn's fd 0 is not ours
		unix.Close(c.fd)
		c.fd = -1
	}
}

// links is every link of the pipeline.
func (c *Conn) links() []*relay.Link {
	var ks []*relay.Link
	if k := c.p.InLink(); k != nil {
		ks = append(ks, k)
	}
	ks = append(ks, c.p.Links()...)
	if k := c.p.OutLink(); k != nil {
		ks = append(ks, k)
	}
	return ks
}

// FD is the connection's socket, for socket options (TCP_NODELAY,
// keep-alive, buffer sizes) in Config.Prepare or OnStart. The server owns
// it: do not read, write or close it. -1 once the connection is over, and
// for a Conn the server did not make (a zero Conn).
func (c *Conn) FD() int {
	if c == nil || c.s == nil {
		return -1
	}
	return c.fd
}

// Pipeline is the connection's pipeline; nil if it did not start.
func (c *Conn) Pipeline() *relay.Pipeline { return c.p }

// InStats are the counters of the client → stage 1 link, OutStats those of
// the stage N → client link (live while the connection is open). A
// direction that has no link — Prepare set PipelineConfig.In or Out to
// nil, or the pipeline did not start — has zero counters.
func (c *Conn) InStats() relay.LinkStats {
	if c.final.haveLinks || c.p == nil {
		return c.final.in
	}
	return linkStats(c.p.InLink())
}

// OutStats: see InStats.
func (c *Conn) OutStats() relay.LinkStats {
	if c.final.haveLinks || c.p == nil {
		return c.final.out
	}
	return linkStats(c.p.OutLink())
}

// linkStats is k's counters, zero for no link.
func linkStats(k *relay.Link) relay.LinkStats {
	if k == nil {
		return relay.LinkStats{}
	}
	return k.Stats()
}

// ExitCode is the pipeline's status as bash's `set -o pipefail` reports
// it (see relay.Pipeline.ExitCode), the 126/127 of a stage that could not
// start, or -1 while the connection is open.
func (c *Conn) ExitCode() int {
	switch {
	case c.p == nil && c.Err != nil:
		var se *relay.StartError
		if asStartError(c.Err, &se) {
			return se.Code
		}
		return 1
	case c.p == nil || !c.p.Done():
		return -1
	}
	return c.p.ExitCode()
}

// Pids are the stages' process ids.
func (c *Conn) Pids() []int {
	if c.p == nil {
		return nil
	}
	return c.p.Pids()
}
