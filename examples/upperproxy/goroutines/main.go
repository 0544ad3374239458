// Command goroutines is examples/upperproxy written the usual way, for
// comparison: io.Copy each way, with three goroutines per connection.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os/signal"
	"syscall"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7009", "address: host:port")
	backend := flag.String("backend", "127.0.0.1:7007", "the backend's host:port")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen, *backend); err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr, backend string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, func() { ln.Close() })
	fmt.Printf("upperproxy: listening on %s\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		go proxy(c.(*net.TCPConn), backend)
	}
}

// proxy relays c to the backend, and the backend's replies upper-cased
// to c. Each direction half-closes on its own; an error ends both.
func proxy(c *net.TCPConn, backend string) {
	defer c.Close()
	b, err := net.Dial("tcp", backend)
	if err != nil {
		log.Print(err)
		return
	}
	defer b.Close()
	done := make(chan error, 2)
	go func() { _, err := io.Copy(b, c); b.(*net.TCPConn).CloseWrite(); done <- err }()
	go func() { _, err := io.Copy(upperWriter{c}, b); c.CloseWrite(); done <- err }()
	for range 2 {
		if <-done != nil {
			return // closes both
		}
	}
}

type upperWriter struct{ w io.Writer }

// Write upper-cases ASCII letters only, so binary data passes intact.
func (u upperWriter) Write(p []byte) (int, error) {
	q := make([]byte, len(p))
	for i, c := range p {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		q[i] = c
	}
	return u.w.Write(q)
}
