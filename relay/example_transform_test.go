package relay_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
)

// A link that upper-cases the bytes it carries. The function runs on the
// link's worker goroutine, never on the loop thread.
func ExampleTransformFunc() {
	inR, inW, _ := fdio.Pipe(true, false)
	outR, outW, _ := fdio.Pipe(false, true)
	upper := relay.TransformFunc(func(dst, src []byte) ([]byte, error) {
		return append(dst, bytes.ToUpper(src)...), nil
	})

	l, _ := loop.New(loop.Options{})
	r, _ := relay.New(l, relay.Options{})
	l.Post(func() {
		_, err := r.NewLink(relay.LinkConfig{
			Src:       relay.Endpoint{FD: inR, Name: "in", Owned: true},
			Dst:       relay.Endpoint{FD: outW, Name: "out", Owned: true},
			Transform: upper,
			OnDone: func(k *relay.Link) {
				st := k.Stats()
				fmt.Printf("%d bytes in, %d out, eof %v\n", st.TransformIn, st.Bytes, st.EOF)
				l.Stop()
			},
		})
		if err != nil {
			panic(err)
		}
	})
	go func() {
		w := os.NewFile(uintptr(inW), "in")
		io.WriteString(w, "quiet words\n")
		w.Close()
	}()
	got := make(chan []byte)
	go func() {
		f := os.NewFile(uintptr(outR), "out")
		b, _ := io.ReadAll(f)
		f.Close()
		got <- b
	}()
	l.Run(context.Background())
	fmt.Print(string(<-got))
	// Output:
	// 12 bytes in, 12 out, eof true
	// QUIET WORDS
}
