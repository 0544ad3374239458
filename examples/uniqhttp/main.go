// Command uniqhttp is an HTTP service answering a POST with `sort | uniq
// -c` of its body. net/http serves the requests; each handler hands its
// pipeline to one epoll loop with relay.Run, which spawns the stages,
// relays the pipe between them and kills them if the request is canceled.
// goroutines/main.go is the same service with os/exec.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7010", "address: host:port")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen); err != nil && !errors.Is(err, http.ErrServerClosed) {
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
	go l.Run(ctx)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: count(r)}
	context.AfterFunc(ctx, func() { srv.Shutdown(context.Background()) })
	fmt.Printf("uniqhttp: listening on %s\n", ln.Addr())
	return srv.Serve(ln)
}

// count answers a POST with `sort | uniq -c` of its body.
func count(r *relay.Relay) http.HandlerFunc {
	stages := []relay.Stage{{Args: []string{"sort"}}, {Args: []string{"uniq", "-c"}}}
	return func(w http.ResponseWriter, req *http.Request) {
		_, err := relay.Run(req.Context(), r, relay.RunConfig{Stages: stages, Stdin: req.Body, Stdout: w, Stderr: os.Stderr})
		var se *relay.StartError
		if errors.As(err, &se) { // nothing was written yet
			http.Error(w, err.Error(), http.StatusInternalServerError)
		} else if err != nil {
			log.Printf("%s: %v", req.RemoteAddr, err)
		}
	}
}
