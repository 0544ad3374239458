package main

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/pipeloop/pipeloop/relay"
)

// TestMain runs the test binary as the echo topology's generator when the
// relay side re-executes it (os.Executable is the test binary here).
func TestMain(m *testing.M) {
	if os.Getenv(genEnv) != "" {
		if err := run(context.Background(), os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "generator:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestTopologies(t *testing.T) {
	for _, tc := range []struct {
		topology string
		k        int
		measure  func(context.Context, int, int64, relay.Mode) (Result, error)
	}{
		{TopologyEcho, 1, measureEcho},
		{TopologyEcho, 600, measureEcho}, // more than one SCM_RIGHTS batch
		{TopologyPipes, 10, measurePipes},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.topology, tc.k), func(t *testing.T) {
			const total = 8 << 20
			res, err := tc.measure(context.Background(), tc.k, total, relay.ModeAuto)
			if err != nil {
				t.Fatal(err)
			}
			if want := total / int64(tc.k) * int64(tc.k); res.K != tc.k || res.Bytes != want || res.Topology != tc.topology {
				t.Errorf("got K=%d bytes=%d topology=%s, want %d, %d, %s", res.K, res.Bytes, res.Topology, tc.k, want, tc.topology)
			}
			if res.LoopCPUSec <= 0 || res.GBps <= 0 {
				t.Errorf("loop CPU %v s, %v GB/s: want both > 0", res.LoopCPUSec, res.GBps)
			}
		})
	}
}

func TestEchoRefusesSplice(t *testing.T) {
	if _, err := measureEcho(context.Background(), 1, 1024, relay.ModeSplice); err == nil {
		t.Fatal("echo with -mode splice: no error")
	}
}
