// Command goroutines is examples/uniqhttp written the usual way, for
// comparison: os/exec runs sort and uniq -c joined by a pipe, with
// os/exec's goroutines copying the body in and the output out.
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
	"os/exec"
	"os/signal"
	"syscall"
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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(count)}
	context.AfterFunc(ctx, func() { srv.Shutdown(context.Background()) })
	fmt.Printf("uniqhttp: listening on %s\n", ln.Addr())
	return srv.Serve(ln)
}

// count answers a POST with `sort | uniq -c` of its body.
func count(w http.ResponseWriter, req *http.Request) {
	sort := exec.CommandContext(req.Context(), "sort")
	uniq := exec.CommandContext(req.Context(), "uniq", "-c")
	sort.Stdin, sort.Stderr = req.Body, os.Stderr
	uniq.Stdout, uniq.Stderr = w, os.Stderr
	pipe, err := sort.StdoutPipe()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	uniq.Stdin = pipe
	if err := sort.Start(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if err := uniq.Start(); err != nil {
		sort.Process.Kill()
		sort.Wait()
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	err1, err2 := sort.Wait(), uniq.Wait()
	if err := errors.Join(err1, err2); err != nil {
		log.Printf("%s: %v", req.RemoteAddr, err)
	}
}
