package relay_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
)

// Run is the front door from any goroutine: the loop runs on its own
// goroutine, and a caller hands it a pipeline with an io.Reader and an
// io.Writer, as it would hand os/exec a command.
func ExampleRun() {
	l, _ := loop.New(loop.Options{})
	r, _ := relay.New(l, relay.Options{})
	go l.Run(context.Background())
	defer l.Stop()

	res, err := relay.Run(context.Background(), r, relay.RunConfig{
		Stages: []relay.Stage{{Args: []string{"sort"}}, {Args: []string{"uniq", "-c"}}},
		Stdin:  strings.NewReader("pear\napple\npear\n"),
		Stdout: os.Stdout,
	})
	fmt.Println(res.ExitCode, res.In.Bytes, err)
	// Output:
	//       1 apple
	//       2 pear
	// 0 16 <nil>
}
