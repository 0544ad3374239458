//go:build race || pipeloopcheck

package relay_test

import (
	"syscall"
	"testing"

	"github.com/pipeloop/pipeloop/internal/testfd"
	"github.com/pipeloop/pipeloop/internal/threadcheck"
	"github.com/pipeloop/pipeloop/relay"
)

// TestRelayCallsChecked: in checking builds (this file's tags), the relay's loop-only
// methods called from another goroutine while the loop runs panic naming
// themselves, before they change anything: a recovered panic (net/http
// recovers a handler's) leaves the link intact, and the loop can still
// close it and stop.
func TestRelayCallsChecked(t *testing.T) {
	e := newEnv(t, relay.Options{})
	inR, _ := testfd.Pipe(t, true, false)
	_, outW := testfd.Pipe(t, false, true)
	var k *relay.Link
	var p *relay.Pipeline
	e.do(func() {
		var err error
		if k, err = e.r.NewLink(relay.LinkConfig{Src: relay.Endpoint{FD: inR}, Dst: relay.Endpoint{FD: outW}}); err != nil {
			t.Fatal(err)
		}
		if p, err = e.r.StartPipeline(relay.PipelineConfig{Stages: stages("sleep 30")}); err != nil {
			t.Fatal(err)
		}
	})
	calls := map[string]func(){
		"relay.NewLink":         func() { e.r.NewLink(relay.LinkConfig{}) },
		"relay.StartPipeline":   func() { e.r.StartPipeline(relay.PipelineConfig{Stages: stages("true")}) },
		"relay.Link.Close":      func() { k.Close() },
		"relay.Link.Stats":      func() { k.Stats() },
		"relay.Links":           func() { e.r.Links() },
		"relay.Pipeline.Signal": func() { p.Signal(syscall.SIGKILL) },
		"relay.Close":           func() { e.r.Close() },
	}
	threadcheck.Refused(t, calls)
	e.do(func() {
		if k.Done() || p.Done() {
			t.Error("a refused call changed the link or the pipeline")
		}
		k.Close()
		p.Signal(syscall.SIGKILL)
	})
}
