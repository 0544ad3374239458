package test_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadmeServeUsage keeps the README's serve and trace usage blocks
// identical to serve --help and trace --help.
func TestReadmeServeUsage(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"serve", "trace"} {
		res := run(t, runOpts{keepOut: true}, cmd, "--help")
		if !strings.Contains(string(readme), "```\n"+string(res.out)+"```\n") {
			t.Errorf("README.md does not contain the current %s --help output in a code block; paste it:\n%s", cmd, res.out)
		}
	}
}

// TestServeSocketActivation: `pipeloop serve` adopts a listening socket
// passed as fd 3, as systemd passes it (LISTEN_FDS, LISTEN_FDNAMES, and
// LISTEN_PID set to the server's own pid by a shell that then execs it,
// as systemd-socket-activate does), and serves real clients on it; a
// socket meant for another pid is refused.
func TestServeSocketActivation(t *testing.T) {
	for _, tc := range []struct {
		listen, pid string
		ok          bool
	}{
		{"systemd", "$$", true},
		{"systemd:web", "$$", true},
		{"fd:3", "", true},
		{"systemd", "1", false},
		{"systemd:nope", "$$", false},
	} {
		t.Run(tc.listen+","+tc.pid, func(t *testing.T) {
			nl, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := nl.Addr().String()
			sock, err := nl.(*net.TCPListener).File() // a duplicate: the socket outlives nl
			nl.Close()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("sh", "-c", `LISTEN_PID=`+tc.pid+` exec "$0" "$@"`,
				bin, "serve", "--listen", tc.listen, "--log", "json", "tr a-z A-Z")
			cmd.Env = append(os.Environ(), "LISTEN_FDS=1", "LISTEN_FDNAMES=web", "GORACE=atexit_sleep_ms=0")
			cmd.ExtraFiles = []*os.File{sock}
			// Our own pipe, not StderrPipe: Wait must not close it under
			// the scanner before it has read the last line.
			stderr, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer stderr.Close()
			cmd.Stderr = w
			err = cmd.Start()
			w.Close()
			sock.Close() // the server holds it now; the port is served by it alone
			if err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			listening, logged := make(chan string, 1), make(chan string, 1)
			go func() {
				var all strings.Builder
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					all.WriteString(sc.Text() + "\n")
					var m map[string]any
					if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "listening" {
						listening <- m["addr"].(string)
					}
				}
				logged <- all.String()
			}()
			if !tc.ok {
				err := cmd.Wait()
				if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
					t.Errorf("exit: %v, want status 1", err)
				}
				if log := <-logged; !strings.Contains(log, "socket activation") {
					t.Errorf("stderr %q does not explain", log)
				}
				return
			}
			select {
			case got := <-listening:
				if got != addr {
					t.Errorf("listening on %s, want the inherited %s", got, addr)
				}
			case log := <-logged:
				cmd.Wait()
				t.Fatalf("serve exited before listening: %s", log)
			case <-time.After(20 * time.Second):
				t.Fatal("serve did not listen")
			}
			for i := range 3 {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				msg := strings.Repeat("socket activated "+string(rune('a'+i)), 10000)
				go func() { io.WriteString(c, msg); c.(*net.TCPConn).CloseWrite() }()
				got, err := io.ReadAll(c)
				c.Close()
				if err != nil || string(got) != strings.ToUpper(msg) {
					t.Fatalf("client %d: got %d bytes (%v), want %d upper-cased", i, len(got), err, len(msg))
				}
			}
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Errorf("serve after SIGTERM: %v\n%s", err, <-logged)
			}
		})
	}
}
