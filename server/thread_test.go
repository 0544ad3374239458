//go:build race || pipeloopcheck

package server_test

import (
	"testing"

	"github.com/pipeloop/pipeloop/internal/threadcheck"
	"github.com/pipeloop/pipeloop/server"
)

// TestServerCallsChecked: in checking builds (this file's tags), the
// server's loop-only methods called from another goroutine while the loop
// runs panic naming themselves; on the loop goroutine they are fine.
func TestServerCallsChecked(t *testing.T) {
	h := serve(t, server.Config{Stages: cat()})
	h.do(func() {}) // Run runs: the check applies from now on
	calls := map[string]func(){
		"server.Stats":    func() { h.srv.Stats() },
		"server.Open":     func() { h.srv.Open() },
		"server.Conns":    func() { h.srv.Conns(func(*server.Conn) {}) },
		"server.Shutdown": func() { h.srv.Shutdown(0, nil) },
	}
	threadcheck.Refused(t, calls)
	h.do(func() {
		if st := h.srv.Stats(); st.Paused || h.srv.Open() != 0 {
			t.Errorf("on the loop goroutine: Stats %+v, Open %d", st, h.srv.Open())
		}
	})
	echo(t, h.addr, []byte("still serving\n"))
}
