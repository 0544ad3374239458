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

// A link that upper-cases the ASCII letters it carries and leaves every
// other byte alone. (bytes.ToUpper would not do: it decodes UTF-8 and
// rewrites every byte that is not valid UTF-8 — binary data — to U+FFFD.)
// The function runs on the link's worker goroutine, never on the loop
// thread.
func ExampleTransformFunc() {
	inR, inW, _ := fdio.Pipe(true, false)
	outR, outW, _ := fdio.Pipe(false, true)
	upper := relay.TransformFunc(func(dst, src []byte) ([]byte, error) {
		for _, c := range src {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
		}
		return dst, nil
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
		io.WriteString(w, "quiet words \xff\xfe\n")
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
	fmt.Printf("%q\n", <-got)
	// Output:
	// 15 bytes in, 15 out, eof true
	// "QUIET WORDS \xff\xfe\n"
}
