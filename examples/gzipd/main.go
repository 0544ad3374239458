// Command gzipd compresses what each client sends with `gzip -c` and
// sends it back: a gzip process per connection, every connection served
// by one epoll loop on one thread (server.New), no goroutine per
// connection. goroutines/main.go is the same daemon with os/exec.
//
//	gzipd -listen 127.0.0.1:7008    # or -listen systemd, under socket activation
//	nc -N 127.0.0.1 7008 < file | gunzip
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os/signal"
	"syscall"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/server"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7008", "address: host:port, unix:/path, systemd or fd:N")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen); err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr string) error {
	l, err := loop.New(loop.Options{})
	if err != nil {
		return err
	}
	r, err := relay.New(l, relay.Options{})
	if err != nil {
		return err
	}
	ln, err := server.Listen(addr, server.ListenConfig{})
	if err != nil {
		return err
	}
	_, err = server.New(r, ln, server.Config{
		Stages: []relay.Stage{{Args: []string{"gzip", "-c"}}},
		OnEnd: func(c *server.Conn) {
			log.Printf("%s: exit %d, %d bytes in, %d out", c.Peer, c.ExitCode(), c.InStats().Bytes, c.OutStats().Bytes)
		},
	})
	if err != nil {
		return err
	}
	fmt.Printf("gzipd: listening on %s\n", ln.Addr())
	return l.Run(ctx) // stopping it kills what still runs (relay.Relay.Close)
}
