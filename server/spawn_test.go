package server_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/server"
)

// TestAsyncSpawnOnStart: with stages forked off the loop thread
// (relay.Options.AsyncSpawn), OnStart still sees every connection's
// pids, before its OnEnd, and every echo is byte-exact.
func TestAsyncSpawnOnStart(t *testing.T) {
	const n = 20
	started := map[uint64][]int{} // loop goroutine
	var bad []string
	h := serveWith(t, relay.Options{AsyncSpawn: true}, server.Config{
		Stages:  []relay.Stage{{Args: []string{"cat"}}, {Args: []string{"cat"}}},
		OnStart: func(c *server.Conn) { started[c.ID] = c.Pids() },
		OnEnd: func(c *server.Conn) {
			if pids, ok := started[c.ID]; !ok || len(pids) != 2 || pids[0] <= 0 || pids[1] <= 0 {
				bad = append(bad, fmt.Sprintf("conn %d: pids at OnStart %v (started %v)", c.ID, pids, ok))
			}
			if c.Reason != server.ReasonEOF || c.ExitCode() != 0 {
				bad = append(bad, fmt.Sprintf("conn %d: reason %s, exit %d", c.ID, c.Reason, c.ExitCode()))
			}
		},
	})
	for i := 0; i < n; i++ {
		msg := []byte(fmt.Sprintf("hello %d", i))
		if got := echo(t, h.addr, msg); !bytes.Equal(got, msg) {
			t.Errorf("echo %q = %q", msg, got)
		}
	}
	waitFor(t, func() bool { return len(h.ended()) == n })
	h.do(func() {
		for _, b := range bad {
			t.Error(b)
		}
	})
}
