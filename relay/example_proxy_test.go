package relay_test

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// A proxy between a client's socket and a backend's, upper-casing what
// the client sends on the way. Each direction half-closes on its own;
// OnDone runs once, when both are done.
func ExampleRelay_NewProxy() {
	c, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0) // client | proxy
	b, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0) // proxy | backend
	client, backend := os.NewFile(uintptr(c[0]), "client"), os.NewFile(uintptr(b[1]), "backend")
	defer client.Close()
	defer backend.Close()

	l, _ := loop.New(loop.Options{})
	r, _ := relay.New(l, relay.Options{})
	done := make(chan string, 1)
	l.Post(func() {
		_, err := r.NewProxy(relay.ProxyConfig{
			A:    relay.Endpoint{FD: c[1], Name: "client", Owned: true},
			B:    relay.Endpoint{FD: b[0], Name: "backend", Owned: true},
			AToB: asciiUpper,
			OnDone: func(p *relay.Proxy) {
				done <- fmt.Sprintf("done: %d bytes up, %d down, err %v", p.AToB().Stats().Bytes, p.BToA().Stats().Bytes, p.Err())
			},
		})
		if err != nil {
			panic(err)
		}
	})
	ran := make(chan error)
	go func() { ran <- l.Run(context.Background()) }()

	client.WriteString("ping")
	unix.Shutdown(c[0], unix.SHUT_WR)
	req, _ := io.ReadAll(backend) // the client's half-close reaches the backend
	backend.WriteString("pong to " + string(req))
	unix.Shutdown(b[1], unix.SHUT_WR)
	reply, _ := io.ReadAll(client)
	fmt.Println(string(reply))
	fmt.Println(<-done)
	l.Stop()
	<-ran
	// Output:
	// pong to PING
	// done: 4 bytes up, 12 down, err <nil>
}
