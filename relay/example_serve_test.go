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

// A pipeline whose input and output are one connected socket, as a
// network daemon runs one per connection: bytes from the peer reach
// stage 1, stage N's output goes back, each direction half-closed on its
// own.
func ExampleRelay_StartPipeline_socket() {
	fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	ours, peer := fds[0], os.NewFile(uintptr(fds[1]), "peer")

	l, _ := loop.New(loop.Options{})
	r, _ := relay.New(l, relay.Options{})
	l.Post(func() {
		sock := relay.Endpoint{FD: ours, Name: "peer"}
		_, err := r.StartPipeline(relay.PipelineConfig{
			Stages: []relay.Stage{{Args: []string{"sort"}}, {Args: []string{"uniq", "-c"}}},
			In:     &sock, Out: &sock, Stderr: relay.Inherit(2),
			OnExit: func(p *relay.Pipeline) {
				in, out := p.InLink().Stats(), p.OutLink().Stats()
				fmt.Printf("exit %d: %d bytes in, %d out\n", p.ExitCode(), in.Bytes, out.Bytes)
				unix.Close(ours) // not Owned: ours to close
				l.Stop()
			},
		})
		if err != nil {
			panic(err)
		}
	})
	wrote := make(chan struct{})
	go func() {
		io.WriteString(peer, "b\na\nb\n")
		unix.Shutdown(fds[1], unix.SHUT_WR) // the raw fd: Fd() would make it blocking
		close(wrote)
	}()
	reply := make(chan []byte)
	go func() { b, _ := io.ReadAll(peer); reply <- b }()
	l.Run(context.Background())
	fmt.Print(string(<-reply))
	<-wrote
	peer.Close()
	// Output:
	// exit 0: 6 bytes in, 20 out
	//       1 a
	//       2 b
}
