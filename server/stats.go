//go:build linux

package server

import (
	"errors"
	"time"

	"github.com/pipeloop/pipeloop/relay"
)

func asStartError(err error, se **relay.StartError) bool { return errors.As(err, se) }

// Stats are a server's counters, open connections included.
type Stats struct {
	Open     int    // connections open now
	Accepted uint64 // connections accepted since New
	Closed   uint64 // connections over
	// BytesIn moved from clients to stage 1, BytesOut from stage N to
	// clients.
	BytesIn, BytesOut uint64
	// Stall times, summed over connections. In: InFull is time holding
	// client bytes stage 1 would not take yet, InEmpty waiting for the
	// client. Out: OutFull is time holding output the client would not
	// take yet (a slow reader), OutEmpty waiting for stage N.
	InFull, InEmpty, OutFull, OutEmpty time.Duration
	// Exits counts the finished stages by position and status.
	Exits map[StageExit]uint64
	// Ended counts closed connections by reason.
	Ended map[Reason]uint64
	// AcceptErrors counts failed accepts (see Config.OnError).
	AcceptErrors uint64
	// Paused reports that the server is not accepting: it is at
	// MaxConns, or its Listener's Pause is in force.
	Paused bool
}

// StageExit is a stage's position in the pipeline (1-based) and its
// shell-style status (128+N when killed by signal N, 126/127 when it could
// not start).
type StageExit struct{ Stage, Code int }

// totals are the counters of closed connections.
type totals struct {
	accepted, closed, acceptErrors     uint64
	bytesIn, bytesOut                  uint64
	inFull, inEmpty, outFull, outEmpty time.Duration
	exits                              map[StageExit]uint64
	ended                              map[Reason]uint64
}

func (t *totals) init() {
	t.exits = make(map[StageExit]uint64)
	t.ended = make(map[Reason]uint64)
}

// add folds a closed connection into the totals.
func (t *totals) add(c *Conn) {
	t.closed++
	t.ended[c.Reason]++
	in, out := c.InStats(), c.OutStats()
	t.bytesIn += in.Bytes
	t.bytesOut += out.Bytes
	t.inFull += in.TimeFull
	t.inEmpty += in.TimeEmpty
	t.outFull += out.TimeFull
	t.outEmpty += out.TimeEmpty
	if c.p == nil {
		var se *relay.StartError
		if asStartError(c.Err, &se) {
			t.exits[StageExit{se.Stage, se.Code}]++
		}
		return
	}
	for _, st := range c.p.Stages() {
		if code := st.ExitCode(); code >= 0 {
			t.exits[StageExit{st.Index, code}]++
		}
	}
}

// Stats returns the server's counters, reading the live counters of open
// connections. Loop goroutine only (from another goroutine, Post a
// function that calls it).
func (s *Server) Stats() Stats {
	s.assertLoop("server.Stats")
	t := &s.totals
	st := Stats{
		Open: len(s.conns), Accepted: t.accepted, Closed: t.closed, AcceptErrors: t.acceptErrors,
		BytesIn: t.bytesIn, BytesOut: t.bytesOut,
		InFull: t.inFull, InEmpty: t.inEmpty, OutFull: t.outFull, OutEmpty: t.outEmpty,
		Exits:  make(map[StageExit]uint64, len(t.exits)),
		Ended:  make(map[Reason]uint64, len(t.ended)),
		Paused: s.ln != nil && (s.ln.paused || s.ln.full),
	}
	for k, v := range t.exits {
		st.Exits[k] = v
	}
	for k, v := range t.ended {
		st.Ended[k] = v
	}
	for c := range s.conns {
		if c.p == nil {
			continue
		}
		in, out := c.InStats(), c.OutStats()
		st.BytesIn += in.Bytes
		st.BytesOut += out.Bytes
		st.InFull += in.TimeFull
		st.InEmpty += in.TimeEmpty
		st.OutFull += out.TimeFull
		st.OutEmpty += out.TimeEmpty
	}
	return st
}
