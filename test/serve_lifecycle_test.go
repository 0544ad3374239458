package test_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestServeClientDisconnects: a client that goes away mid-stream has its
// stages terminated and reaped, and its fds closed.
func TestServeClientDisconnects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stage string
		drop  func(c *net.TCPConn)
	}{
		// A stage that never reads or writes: only the reset tells.
		{"reset/idle stage", "sleep 100", func(c *net.TCPConn) {
			c.SetLinger(0) // close sends RST
			c.Close()
		}},
		// A stage that writes without end to a client that closed
		// without reading: the write fails.
		{"close/writing stage", "yes", func(c *net.TCPConn) {
			buf := make([]byte, 1000)
			io.ReadFull(c, buf)
			c.Close()
		}},
		// Mid-stream: the client streams in, reads a little, resets.
		{"reset/echo", "cat", func(c *net.TCPConn) {
			go io.Copy(c, newStream(3, 64<<20))
			buf := make([]byte, 100<<10)
			io.ReadFull(c, buf)
			c.SetLinger(0)
			c.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServe(t, "--kill-grace", "1s", tc.stage)
			baseFDs := s.fds()
			c := s.dial()
			start := s.waitEvents("conn start", 1, 10*time.Second)[0]
			tc.drop(c)
			end := s.waitEvents("conn end", 1, 10*time.Second)[0]
			if end["reason"] != "reset" {
				t.Errorf("conn end %v: want reason reset", end)
			}
			s.noZombies()
			s.waitNoChildren(5 * time.Second)
			for _, pid := range start["pids"].([]any) {
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", int(pid.(float64)))); err == nil {
					t.Errorf("stage %v still exists", pid)
				}
			}
			if got := s.fds(); got != baseFDs {
				t.Errorf("%d fds open after the connection, %d before", got, baseFDs)
			}
		})
	}
}

// TestServeGrace: SIGTERM stops accepting at once, lets open connections
// finish within --grace, then terminates the stages that are still going.
func TestServeGrace(t *testing.T) {
	s := startServe(t, "--grace", "1s", "--kill-grace", "500ms", "--shell", `read x; sleep "$x"; echo "slept $x"`)
	quick, slow := s.dial(), s.dial()
	defer quick.Close()
	defer slow.Close()
	quick.Write([]byte("0.5\n"))
	slow.Write([]byte("100\n"))
	s.waitEvents("conn start", 2, 10*time.Second)
	time.Sleep(100 * time.Millisecond) // both stages have read their line

	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.waitEvents("shutting down", 1, 5*time.Second)
	if c, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
		c.Close()
		t.Error("a new connection was accepted after SIGTERM")
	}
	quick.SetDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(quick)
	if string(got) != "slept 0.5\n" {
		t.Errorf("connection within the grace period got %q, want it to finish", got)
	}
	code, _ := s.stop(0, 10*time.Second) // signal 0: just wait
	wall := time.Since(start)
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	if wall < time.Second || wall > 5*time.Second {
		t.Errorf("exited %v after SIGTERM; want just after the 1s grace", wall)
	}
	reasons := map[string]string{}
	for _, e := range s.events("conn end") {
		reasons[fmt.Sprint(e["conn"])] = fmt.Sprint(e["reason"], " ", e["exit"])
	}
	if reasons["1"] != "eof 0" || reasons["2"] != "shutdown 143" {
		t.Errorf("conn end reasons %v, want 1: eof 0, 2: shutdown 143", reasons)
	}
}

// TestServeMaxConns: a burst of clients beyond --max-conns waits in the
// backlog; the cap holds and every client is served.
func TestServeMaxConns(t *testing.T) {
	const max, clients = 4, 40
	s := startServe(t, "--max-conns", fmt.Sprint(max), "--shell", "sleep 0.1; cat")
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := int64(len(children(s.pid))); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := s.dial()
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if err := echoCheck(c, uint64(i)+1000, 10000); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	t.Logf("peak %d stages for %d clients with --max-conns %d", peak.Load(), clients, max)
	if peak.Load() > max {
		t.Errorf("%d stages ran at once, want at most %d", peak.Load(), max)
	}
	if peak.Load() < 2 {
		t.Errorf("peak %d: the burst did not run concurrently", peak.Load())
	}
}

// TestServeIdleTimeout: a client that sends nothing is cut off.
func TestServeIdleTimeout(t *testing.T) {
	s := startServe(t, "--idle-timeout", "300ms", "cat")
	c := s.dial()
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("x"))
	start := time.Now()
	got, err := io.ReadAll(c)
	idle := time.Since(start)
	if err != nil || string(got) != "x" {
		t.Fatalf("got %q, %v", got, err)
	}
	if idle < 250*time.Millisecond || idle > 3*time.Second {
		t.Errorf("cut off after %v idle, want about 300ms", idle)
	}
	end := s.waitEvents("conn end", 1, 5*time.Second)[0]
	if end["reason"] != "idle" {
		t.Errorf("conn end %v: want reason idle", end)
	}
}

// TestServePeerEnv: stages learn who called.
func TestServePeerEnv(t *testing.T) {
	s := startServe(t, "--shell", `echo "$PIPELOOP_CONN $PIPELOOP_PEER"`)
	c := s.dial()
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(c)
	if want := "1 " + c.LocalAddr().String() + "\n"; string(got) != want {
		t.Fatalf("stage saw %q, want %q", got, want)
	}
}
