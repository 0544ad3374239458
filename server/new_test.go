package server_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pipeloop/pipeloop/internal/leakcheck"
	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/server"
)

// TestNewFailsClosesListener: New takes ownership of its Listener on every
// outcome, as http.Server.Serve does with its net.Listener and relay's
// NewProxy with owned endpoints: when it fails, the listening socket is
// closed and a unix socket's file removed, so a caller that returns the
// error leaks neither. A Close after that does nothing.
func TestNewFailsClosesListener(t *testing.T) {
	l, err := loop.New(loop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, err := relay.New(l, relay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		r    *relay.Relay
		cfg  server.Config
	}{
		{"no stages", r, server.Config{}},
		{"command not found", r, server.Config{Stages: []relay.Stage{{Args: []string{"pipeloop-no-such-command"}}}}},
		{"nil relay", nil, server.Config{Stages: cat()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := leakcheck.FDs()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "s")
			ln, err := server.Listen("unix:"+path, server.ListenConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := server.New(tc.r, ln, tc.cfg); err == nil {
				t.Fatal("New succeeded")
			}
			if err := leakcheck.Check(before, 0); err != nil {
				t.Errorf("after New failed: %v", err)
			}
			if _, err := os.Lstat(path); !os.IsNotExist(err) {
				t.Errorf("socket file after New failed: %v, want it removed", err)
			}
			if fd, err := ln.FD(), ln.Close(); fd != -1 || err != nil {
				t.Errorf("after New failed: FD %d, Close %v; want -1, nil", fd, err)
			}
		})
	}
}
