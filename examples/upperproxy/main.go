// Command upperproxy is a TCP proxy that upper-cases the backend's answers
// in process: per connection a relay.Proxy (both ways, one completion) on
// one epoll loop, the backend dialed on the loop, the upper-casing on a
// transform worker. goroutines/main.go is the same proxy with io.Copy.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os/signal"
	"syscall"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/server"
	"golang.org/x/sys/unix"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7009", "address: host:port, unix:/path, systemd or fd:N")
	backend := flag.String("backend", "127.0.0.1:7007", "the backend's host:port or unix:/path")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen, *backend); err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr, backend string) error {
	be, err := server.ParseAddr(backend) // resolved here: a DNS lookup would block the loop
	if err != nil {
		return err
	}
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
	dl := server.NewDialer(l) // a dial pending at stop reports ErrClosed: fd is closed
	accept := func(fd int, peer unix.Sockaddr) {
		err := dl.Dial(be, 10*time.Second, func(bfd int, err error) {
			if err != nil {
				log.Print(err)
				unix.Close(fd)
				return
			}
			_, err = r.NewProxy(relay.ProxyConfig{ // on error it closes both
				A:    relay.Endpoint{FD: fd, Name: server.AddrOf(peer).String(), Owned: true},
				B:    relay.Endpoint{FD: bfd, Name: "backend", Owned: true},
				BToA: relay.TransformFunc(upper),
			})
			if err != nil {
				log.Print(err)
			}
		})
		if err != nil {
			log.Print(err)
			unix.Close(fd)
		}
	}
	if err := ln.Serve(l, accept, func(err error) { log.Print(err) }); err != nil {
		ln.Close()
		return err
	}
	l.OnStop(func() { ln.Close() })
	fmt.Printf("upperproxy: listening on %s\n", ln.Addr())
	return l.Run(ctx)
}

// upper upper-cases ASCII letters only, so binary data passes intact.
func upper(dst, src []byte) ([]byte, error) {
	for _, c := range src {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, nil
}
