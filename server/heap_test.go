package server_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/server"
	"golang.org/x/sys/unix"
)

// TestIdleConnHeap measures the server's Go heap per idle connection —
// socket registered, pipeline of one stage running, links idle — not
// counting the child processes. The clients are raw sockets so that the
// test's own side allocates nothing per connection.
func TestIdleConnHeap(t *testing.T) {
	n := 400
	if testing.Short() {
		n = 50
	}
	h := serve(t, server.Config{Stages: cat()})
	addr := h.srv.Listener().Addr()
	dial := func() int {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: addr.IP.As4(), Port: addr.Port}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return fd
	}
	open := func() (k int) { h.do(func() { k = h.srv.Open() }); return k }
	waitOpen := func(want int) {
		deadline := time.Now().Add(30 * time.Second)
		for open() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%d connections open, want %d", open(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	// Warm up: the first connections grow the loop's and relay's tables.
	for range 10 {
		dial()
	}
	waitOpen(10)
	before := heap()
	for range n {
		dial()
	}
	waitOpen(10 + n)
	time.Sleep(50 * time.Millisecond) // let the links settle idle
	after := heap()
	per := float64(int64(after)-int64(before)) / float64(n)
	t.Logf("heap per idle connection: %.0f bytes (%d connections, heap %d → %d KiB)", per, n, before>>10, after>>10)
	if per > 16<<10 {
		t.Errorf("%.0f bytes of heap per idle connection, want at most 16 KiB", per)
	}
}
