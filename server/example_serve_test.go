package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/server"
)

// A daemon that upper-cases whatever its clients send, with one `tr`
// process per connection, all served by one loop thread.
func Example() {
	l, _ := loop.New(loop.Options{})
	r, _ := relay.New(l, relay.Options{})
	ln, err := server.Listen("127.0.0.1:0", server.ListenConfig{})
	if err != nil {
		panic(err)
	}
	ended := make(chan string, 1)
	srv, err := server.New(r, ln, server.Config{
		Stages:      []relay.Stage{{Args: []string{"tr", "a-z", "A-Z"}}},
		MaxConns:    100,
		IdleTimeout: time.Minute,
		OnEnd: func(c *server.Conn) { // on the loop goroutine
			ended <- fmt.Sprintf("conn %d: %s, exit %d, %d bytes in, %d out",
				c.ID, c.Reason, c.ExitCode(), c.InStats().Bytes, c.OutStats().Bytes)
		},
	})
	if err != nil {
		panic(err)
	}
	stopped := make(chan error)
	go func() { stopped <- l.Run(context.Background()) }()

	// A client.
	c, _ := net.Dial("tcp", ln.Addr().String())
	io.WriteString(c, "hello, loop")
	c.(*net.TCPConn).CloseWrite() // tr sees EOF…
	reply, _ := io.ReadAll(c)     // …and its EOF reaches us
	c.Close()
	fmt.Println(string(reply))
	fmt.Println(<-ended)

	// Graceful stop from another goroutine: through Post.
	l.Post(func() { srv.Shutdown(5*time.Second, l.Stop) })
	fmt.Println(<-stopped)
	// Output:
	// HELLO, LOOP
	// conn 1: eof, exit 0, 11 bytes in, 11 out
	// <nil>
}
