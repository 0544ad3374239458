//go:build linux

package main

import (
	"bytes"
	"errors"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
)

// live is a running pipeloop as seen from outside while it runs: SIGUSR1
// (statssignal.go) and pipeloop ctl (ctl.go, ctl_server.go) read its stats
// and change its rate limit through it. links and stages run on the loop
// goroutine; stages is nil in stdin mode.
type live struct {
	l      *loop.Loop
	links  func() []*relay.Link
	stages func() []*relay.StageResult
	done   chan struct{} // closed by stop: the loop has returned
	stops  []func()      // what startLive started, stopped in reverse
}

// errEnded says the loop ended before a request reached it.
var errEnded = errors.New("pipeloop is ending")

// startLive starts what serves a running pipeloop: the SIGUSR1 handler,
// which prints --stats's tables on rp's stderr, and the control socket.
// Call stop once the loop has returned.
func startLive(v *live, rp *reporter) *live {
	v.done = make(chan struct{})
	v.stops = append(v.stops, startStatsSignal(v, rp.errw, rp.usr1))
	// Without the socket (the name is taken: a pipeloop of the same pid
	// in another pid namespace) pipeloop ctl cannot reach this run, and
	// says so to whoever asks; the run goes on without a word.
	if stop, err := startCtlServer(v); err == nil {
		v.stops = append(v.stops, stop)
	}
	return v
}

// stop ends what startLive started.
func (v *live) stop() {
	close(v.done)
	for i := len(v.stops) - 1; i >= 0; i-- {
		v.stops[i]()
	}
}

// do runs f on the loop goroutine and waits for it; errEnded if the loop
// ended first. Not on the loop goroutine.
func (v *live) do(f func()) error {
	ran := make(chan struct{})
	if err := v.l.Post(func() { f(); close(ran) }); err != nil {
		return errEnded
	}
	select {
	case <-ran:
		return nil
	case <-v.done:
		return errEnded
	}
}

// table is the --stats tables now, without the verdict (that needs the
// run's end). Loop goroutine only.
func (v *live) table() []byte {
	var b bytes.Buffer
	var links []relay.LinkStats
	for _, k := range v.links() {
		links = append(links, k.Stats())
	}
	var stages []*relay.StageResult
	if v.stages != nil {
		stages = v.stages()
	}
	writeStats(&b, links, stages, v.l.Stats())
	return b.Bytes()
}

// setRate sets every link's rate limit (0 lifts it). Loop goroutine only.
func (v *live) setRate(bps int64) int {
	links := v.links()
	for _, k := range links {
		k.SetRateLimit(bps)
	}
	return len(links)
}

// pipelineLinks and pipelineStages are p's, none before it started.
func pipelineLinks(p *relay.Pipeline) []*relay.Link {
	if p == nil {
		return nil
	}
	return p.Links()
}

func pipelineStages(p *relay.Pipeline) []*relay.StageResult {
	if p == nil {
		return nil
	}
	return p.Stages()
}
