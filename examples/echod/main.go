// Command echod is a small network daemon built on pipeloop's packages: it
// runs a command (cat by default) for every connection, with the
// connection as the command's stdin and stdout, and serves every
// connection from one epoll loop on one thread. It uses the low-level
// pieces — server.Listener and relay.StartPipeline with In/Out — that the
// server package (and `pipeloop serve`) assemble in more detail.
//
//	echod -listen 127.0.0.1:7007 -cmd 'tr a-z A-Z'
//
// SIGINT or SIGTERM stops accepting and lets open connections finish.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/server"
	"golang.org/x/sys/unix"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7007", "address: host:port or unix:/path")
	cmd := flag.String("cmd", "cat", "command to run per connection (split on spaces)")
	flag.Parse()
	if err := run(*listen, strings.Fields(*cmd)); err != nil {
		log.Fatal(err)
	}
}

// daemon is the state the loop goroutine keeps; nothing else touches it.
type daemon struct {
	l        *loop.Loop
	r        *relay.Relay
	ln       *server.Listener
	stage    relay.Stage
	open     map[*relay.Pipeline]int // pipeline → its connection's socket
	stopping bool
}

func run(addr string, argv []string) error {
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
	d := &daemon{l: l, r: r, ln: ln, stage: relay.Stage{Args: argv}, open: map[*relay.Pipeline]int{}}
	if err := ln.Serve(l, d.accept, func(err error) { log.Print(err) }); err != nil {
		return err
	}

	// Signals arrive on another goroutine: hand them to the loop.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		l.Post(d.shutdown)
	}()
	fmt.Printf("echod: listening on %s\n", ln.Addr())
	return l.Run(context.Background())
}

// accept gives a new connection its own process, with the socket relayed
// into its stdin and out of its stdout.
func (d *daemon) accept(fd int, peer unix.Sockaddr) {
	sock := relay.Endpoint{FD: fd, Name: server.AddrOf(peer).String()}
	p, err := d.r.StartPipeline(relay.PipelineConfig{
		Stages: []relay.Stage{d.stage}, In: &sock, Out: &sock, Stderr: relay.Inherit(2),
		OnExit: d.done,
	})
	if err != nil {
		log.Printf("%s: %v", sock.Name, err)
		unix.Close(fd)
		return
	}
	d.open[p] = fd
}

// done runs when a connection's process has exited and both links are
// finished: report, close the socket, and stop when shutting down.
func (d *daemon) done(p *relay.Pipeline) {
	in, out := p.InLink().Stats(), p.OutLink().Stats()
	log.Printf("%s: exit %d, %d bytes in, %d out, %v", in.Src, p.ExitCode(), in.Bytes, out.Bytes, out.Wall().Round(1e6))
	unix.Close(d.open[p])
	delete(d.open, p)
	if d.stopping && len(d.open) == 0 {
		d.l.Stop()
	}
}

// shutdown stops accepting; the loop stops when the last connection ends.
func (d *daemon) shutdown() {
	d.stopping = true
	d.ln.Close()
	log.Printf("shutting down, %d connections open", len(d.open))
	if len(d.open) == 0 {
		d.l.Stop()
	}
}
