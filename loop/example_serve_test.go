package loop_test

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// A listening socket registered level-triggered: the handler accepts
// until EAGAIN, all on the loop thread. (The server package does this
// with batching, connection limits and back-off.)
func ExampleLoop_Register_listener() {
	l, _ := loop.New(loop.Options{})
	lfd, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	unix.Listen(lfd, 128)
	sa, _ := unix.Getsockname(lfd)
	port := sa.(*unix.SockaddrInet4).Port

	served := 0
	l.Register(lfd, loop.Readable, loop.HandlerFunc(func(loop.Events) {
		for {
			fd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			if err != nil {
				return // EAGAIN: the backlog is empty
			}
			served++
			unix.Write(fd, []byte(fmt.Sprintf("hello, client %d\n", served)))
			unix.Close(fd)
			if served == 2 {
				l.Unregister(lfd)
				unix.Close(lfd)
				l.Stop()
			}
		}
	}))
	clients := make(chan struct{})
	go func() {
		defer close(clients)
		for range 2 {
			c, _ := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			b, _ := io.ReadAll(c)
			c.Close()
			fmt.Print(string(b))
		}
	}()
	err := l.Run(context.Background())
	<-clients
	fmt.Println(err)
	// Output:
	// hello, client 1
	// hello, client 2
	// <nil>
}
