package server_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/server"
)

// TestPrepareDropsLink: a Prepare that drops In (a write-only service:
// stage 1 reads /dev/null) or Out (a read-only one: stage N writes
// /dev/null) leaves that direction with zero counters, not a nil
// dereference in Conn.InStats/OutStats or Server.Stats; the other
// direction still counts.
func TestPrepareDropsLink(t *testing.T) {
	for _, tc := range []struct {
		name    string
		drop    func(*relay.PipelineConfig)
		script  string // the stage
		send    string // the client's bytes
		want    string // what the client reads before the stage idles
		in, out uint64 // the counters while open
	}{
		{"In", func(cfg *relay.PipelineConfig) { cfg.In = nil }, "echo banner; exec sleep 30", "", "banner\n", 0, 7},
		{"Out", func(cfg *relay.PipelineConfig) { cfg.Out = nil }, "head -c 5 >/dev/null; exec sleep 30", "hello", "", 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := serve(t, server.Config{
				Stages:  []relay.Stage{{Args: []string{"sh", "-c", tc.script}}},
				Prepare: func(_ *server.Conn, cfg *relay.PipelineConfig) error { tc.drop(cfg); return nil },
			})
			c, err := net.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			if got := make([]byte, len(tc.want)); len(got) > 0 {
				if _, err := io.ReadFull(c, got); err != nil || string(got) != tc.want {
					t.Fatalf("client read %q, %v; want %q", got, err, tc.want)
				}
			}
			var st server.Stats
			waitFor(t, func() bool {
				h.do(func() { st = h.srv.Stats() })
				return st.Open == 1 && st.BytesIn == tc.in && st.BytesOut == tc.out
			})
			var in, out relay.LinkStats
			h.do(func() { h.srv.Conns(func(c *server.Conn) { in, out = c.InStats(), c.OutStats() }) })
			if in.Bytes != tc.in || out.Bytes != tc.out {
				t.Errorf("Conn stats: in %d out %d, want %d and %d", in.Bytes, out.Bytes, tc.in, tc.out)
			}
		})
	}
}
