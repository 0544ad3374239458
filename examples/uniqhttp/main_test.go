package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/daemontest"
)

// TestMain runs main instead of the tests when the test binary is
// re-executed as the daemon, so the test needs no separately built binary.
func TestMain(m *testing.M) { daemontest.RunMain(m, "uniqhttp", main) }

func startUniqhttp(t *testing.T, bin string) (*exec.Cmd, string) {
	t.Helper()
	cmd, addr := daemontest.Start(t, "uniqhttp", bin, []string{"LC_ALL=C"}, "-listen", "127.0.0.1:0")
	return cmd, "http://" + addr + "/"
}

// uniqC is `LC_ALL=C sort | uniq -c` of body, as GNU coreutils prints it.
func uniqC(body string) string {
	lines := strings.SplitAfter(strings.TrimSuffix(body, "\n"), "\n")
	lines[len(lines)-1] += "\n"
	slices.Sort(lines)
	var b strings.Builder
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && lines[j] == lines[i] {
			j++
		}
		fmt.Fprintf(&b, "%7d %s", j-i, lines[i])
		i = j
	}
	return b.String()
}

// TestUniqhttp: concurrent POSTs each get the exact `sort | uniq -c` of
// their own body.
func TestUniqhttp(t *testing.T) {
	for _, bin := range []string{"", daemontest.GoroutineVersion(t)} {
		t.Run(daemontest.Impl(bin), func(t *testing.T) {
			cmd, url := startUniqhttp(t, bin)
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(i), 1))
					var body strings.Builder
					for range 1000 << (i % 4) {
						fmt.Fprintf(&body, "word%d\n", rng.IntN(50))
					}
					resp, err := http.Post(url, "text/plain", strings.NewReader(body.String()))
					if err != nil {
						t.Error(err)
						return
					}
					got, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if want := uniqC(body.String()); err != nil || string(got) != want {
						t.Errorf("client %d: got %q (%v), want %q", i, got, err, want)
					}
				})
			}
			wg.Wait()
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Errorf("uniqhttp after SIGTERM: %v", err)
			}
		})
	}
}

// TestUniqhttpClientGone: a client that goes away mid-body leaves the
// daemon with no child: the stages end and are reaped.
func TestUniqhttpClientGone(t *testing.T) {
	cmd, url := startUniqhttp(t, "")
	c, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nsome of the body\n")
	waitChildren(t, cmd.Process.Pid, func(n int) bool { return n == 2 }) // sort and uniq
	c.Close()
	waitChildren(t, cmd.Process.Pid, func(n int) bool { return n == 0 })
}

// waitChildren waits until ok(the number of pid's children).
func waitChildren(t *testing.T, pid int, ok func(int) bool) {
	t.Helper()
	n := -1
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		n = 0
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
		for _, f := range tasks {
			b, _ := os.ReadFile(f)
			n += len(strings.Fields(string(b)))
		}
		if ok(n) {
			return
		}
	}
	t.Fatalf("daemon has %d children", n)
}
