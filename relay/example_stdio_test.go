package relay_test

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
)

// A pipeline's stdio: Stdout hands on the write end of a pipe with
// Inherit; Stdin and Stderr, left unset, are /dev/null — never the
// daemon's own fd 0.
func ExampleInherit() {
	outR, outW, _ := fdio.Pipe(false, false)
	l, _ := loop.New(loop.Options{})
	r, _ := relay.New(l, relay.Options{})
	l.Post(func() {
		_, err := r.StartPipeline(relay.PipelineConfig{
			Stages: []relay.Stage{{Args: []string{"sh", "-c", "cat; echo to stdout; echo to stderr >&2"}}},
			Stdout: relay.Inherit(outW),
			OnExit: func(p *relay.Pipeline) {
				fmt.Println("exit", p.ExitCode())
				l.Stop()
			},
		})
		if err != nil {
			panic(err)
		}
	})
	l.Run(context.Background())
	os.NewFile(uintptr(outW), "stdout").Close() // the stage has its own copy
	out := os.NewFile(uintptr(outR), "out")
	b, _ := io.ReadAll(out)
	out.Close()
	fmt.Print(string(b))
	// Output:
	// exit 0
	// to stdout
}
