package test_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// Serve-mode benchmarks: pipeloop serve next to socat
// TCP-LISTEN:…,fork EXEC:cat (when socat is installed), both running cat
// per connection on loopback.
//
//	go test -run XXX -bench Serve -benchtime 5s ./test
//
// BenchmarkServeConnRate: short connections (64 bytes echoed), 8 clients
// at a time; conns/s. BenchmarkServeBulk: one connection echoing 64 MiB
// per op (zeros, count checked: the client stays cheap); MB/s each way.

// echoServer is a running server under benchmark.
type echoServer struct {
	addr string
	stop func()
}

func startEchoServers(b *testing.B) map[string]func(*testing.B) echoServer {
	return map[string]func(*testing.B) echoServer{
		"pipeloop": func(b *testing.B) echoServer {
			return startServeB(b, exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--log", "json", "cat"))
		},
		"socat": func(b *testing.B) echoServer {
			if _, err := exec.LookPath("socat"); err != nil {
				b.Skip("socat not installed (apt-get install socat)")
			}
			port := serveFreePort(b)
			cmd := exec.Command("socat", fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,backlog=4096", port), "EXEC:cat")
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			serveWaitDial(b, addr)
			return echoServer{addr: addr, stop: func() { cmd.Process.Kill(); cmd.Wait() }}
		},
	}
}

// startServeB runs pipeloop serve and reads its address from the log.
func startServeB(b *testing.B, cmd *exec.Cmd) echoServer {
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "listening" {
				addr <- m["addr"].(string)
			}
		}
	}()
	select {
	case a := <-addr:
		return echoServer{addr: a, stop: func() { cmd.Process.Kill(); cmd.Wait() }}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		b.Fatal("pipeloop serve did not start")
	}
	return echoServer{}
}

func serveFreePort(b *testing.B) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func serveWaitDial(b *testing.B, addr string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			time.Sleep(50 * time.Millisecond)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatalf("%s not listening", addr)
}

// echoOnce echoes n bytes over a new connection.
func echoOnce(addr string, n int64, seed uint64) error {
	c, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	return echoCheck(c.(*net.TCPConn), seed, n)
}

func BenchmarkServeConnRate(b *testing.B) {
	for _, name := range []string{"pipeloop", "socat"} {
		b.Run(name, func(b *testing.B) {
			s := startEchoServers(b)[name](b)
			defer s.stop()
			const clients = 8
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			var mu sync.Mutex
			var firstErr error
			next := make(chan int, clients)
			go func() {
				for i := range b.N {
					next <- i
				}
				close(next)
			}()
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						if err := echoOnce(s.addr, 64, uint64(i)); err != nil {
							mu.Lock()
							if firstErr == nil {
								firstErr = err
							}
							mu.Unlock()
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "conns/s")
			if firstErr != nil {
				b.Fatal(firstErr)
			}
		})
	}
}

func BenchmarkServeBulk(b *testing.B) {
	const size = 64 << 20
	for _, name := range []string{"pipeloop", "socat"} {
		b.Run(name, func(b *testing.B) {
			s := startEchoServers(b)[name](b)
			defer s.stop()
			b.SetBytes(size)
			b.ResetTimer()
			for range b.N {
				if err := echoCount(s.addr, size); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// echoCount echoes n zero bytes over a new connection and checks only
// the count, so the client costs little next to the server.
func echoCount(addr string, n int64) error {
	c, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	werr := make(chan error, 1)
	go func() {
		_, err := io.CopyBuffer(c, io.LimitReader(serveZeros{}, n), make([]byte, 256<<10))
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	got, err := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("got %d bytes back, want %d", got, n)
	}
	return <-werr
}

type serveZeros struct{}

func (serveZeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
