package bench

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// goEcho serves on loopback, passing each connection's bytes through
// mangle (nil: unchanged) back to the client until the client half-closes.
func goEcho(t *testing.T, mangle func([]byte) []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						out := buf[:n]
						if mangle != nil {
							out = mangle(out)
						}
						if _, werr := c.Write(out); werr != nil {
							return
						}
					}
					if err != nil {
						c.(*net.TCPConn).CloseWrite()
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestEchoChecks(t *testing.T) {
	ctx := context.Background()
	const n = 3<<20 + 5
	want := patternHash(n)
	flip := func(b []byte) []byte { b[len(b)/2] ^= 1; return b }
	drop := func(b []byte) []byte { return b[:len(b)-1] }
	for _, tc := range []struct {
		name   string
		mangle func([]byte) []byte
	}{
		{"exact", nil},
		{"flipped", flip},
		{"dropped", drop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := goEcho(t, tc.mangle)
			msg := []byte(strings.Repeat("x", serveMsg))
			for what, err := range map[string]error{
				"bulkEcho":  bulkEcho(ctx, addr, n, want),
				"echoShort": echoShort(ctx, addr, msg, make([]byte, serveMsg+1)),
			} {
				t.Logf("%s: %v", what, err)
				if got, want := err != nil, tc.mangle != nil; got != want {
					t.Errorf("%s: got error %v, want an error: %t", what, err, want)
				}
			}
		})
	}
}

func TestConnRate(t *testing.T) {
	addr := goEcho(t, nil)
	n, err := connRate(context.Background(), addr, 4, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if n < 4 {
		t.Errorf("got %d connections in 100ms, want at least 4", n)
	}
}

func TestPatternReader(t *testing.T) {
	a, _ := io.ReadAll(patternReader(2<<20 + 100))
	if got, want := len(a), 2<<20+100; got != want {
		t.Fatalf("got %d bytes, want %d", got, want)
	}
	if a[0] == a[1] && a[1] == a[2] {
		t.Errorf("pattern starts with a run: % x", a[:8])
	}
	if patternHash(1<<20) == patternHash(1<<20+1) {
		t.Error("different lengths hash alike")
	}
}

func TestSummariseServe(t *testing.T) {
	samples := []ServeSample{
		{Server: ServePipeloop, Kind: ServeRate, Round: 0, Rate: 1000, Conns: 1000, CPUSec: 1},
		{Server: ServeSocat, Kind: ServeRate, Round: 0, Rate: 500, Conns: 500, CPUSec: 1},
		{Server: ServePipeloop, Kind: ServeRate, Round: 1, Rate: 900, Conns: 900, CPUSec: 0.9},
		{Server: ServeSocat, Kind: ServeRate, Round: 1, Err: "boom"},
		{Server: ServePipeloop, Kind: ServeBulk, Round: 0, Rate: 400, Bytes: 1e9, CPUSec: 2},
	}
	got := summariseServe(samples)
	if len(got) != 3 {
		t.Fatalf("got %d summaries, want 3 (socat bulk has no sample)", len(got))
	}
	pl, so, bulk := got[0], got[1], got[2]
	if pl.Rate.Median != 950 || pl.Rounds != 2 {
		t.Errorf("pipeloop rate %+v rounds %d, want median 950 over 2", pl.Rate, pl.Rounds)
	}
	if pl.VsSocat.N != 1 || pl.VsSocat.Median != 2 {
		t.Errorf("pipeloop ÷ socat %+v, want 2 from round 1 only", pl.VsSocat)
	}
	if pl.CPU.Median != 1 {
		t.Errorf("pipeloop CPU %v ms/conn, want 1", pl.CPU.Median)
	}
	if len(so.Failures) != 1 || so.Rounds != 1 {
		t.Errorf("socat: %d failures over %d rounds, want 1 and 1", len(so.Failures), so.Rounds)
	}
	if bulk.CPU.Median != 2 || bulk.VsSocat.Valid() {
		t.Errorf("bulk CPU %v s/GB, ratio %+v; want 2 and none", bulk.CPU.Median, bulk.VsSocat)
	}
}
