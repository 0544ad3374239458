// Command goroutines is examples/gzipd written the usual way, for
// comparison: os/exec and io.Copy, with a goroutine per connection (and
// two more, os/exec's, copying the socket to and from gzip).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7008", "address: host:port")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen); err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, func() { ln.Close() })
	fmt.Printf("gzipd: listening on %s\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		go serve(ctx, c)
	}
}

// serve runs gzip with the connection as its stdin and stdout.
func serve(ctx context.Context, c net.Conn) {
	defer c.Close()
	cmd := exec.CommandContext(ctx, "gzip", "-c")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c, c, os.Stderr
	err := cmd.Run()
	log.Printf("%s: %v", c.RemoteAddr(), err)
}
