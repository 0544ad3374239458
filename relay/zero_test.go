package relay_test

import (
	"context"
	"syscall"
	"testing"

	"github.com/pipeloop/pipeloop/relay"
)

// TestZeroValues: the relay's types used without their constructors
// answer with an error or do nothing; none panics.
func TestZeroValues(t *testing.T) {
	var r relay.Relay
	if _, err := relay.New(nil, relay.Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
	if _, err := r.NewLink(relay.LinkConfig{}); err == nil {
		t.Error("NewLink on a zero Relay succeeded")
	}
	if _, err := r.StartPipeline(relay.PipelineConfig{Stages: stages("true")}); err == nil {
		t.Error("StartPipeline on a zero Relay succeeded")
	}
	if _, err := r.NewProxy(relay.ProxyConfig{}); err == nil {
		t.Error("NewProxy on a zero Relay succeeded")
	}
	if _, err := relay.Run(context.Background(), &r, relay.RunConfig{Stages: stages("true")}); err == nil {
		t.Error("Run on a zero Relay succeeded")
	}
	if _, err := relay.Run(context.Background(), nil, relay.RunConfig{Stages: stages("true")}); err == nil {
		t.Error("Run on a nil Relay succeeded")
	}
	r.Close()
	var k relay.Link
	k.Close()
	_ = k.Stats()
	var p relay.Pipeline
	p.Signal(syscall.SIGTERM)
	_, _ = p.ExitCode(), p.Done()
	var x relay.Proxy
	x.Close()
}
