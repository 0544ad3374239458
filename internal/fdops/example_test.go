package fdops_test

import (
	"errors"
	"fmt"
	"io"

	"github.com/pipeloop/pipeloop/fdio"
	"github.com/pipeloop/pipeloop/internal/fdops"
	"golang.org/x/sys/unix"
)

// A Ring's buffered bytes come back as two slices when they cross the end
// of the buffer, ready for writev.
func ExampleRing() {
	b, err := fdops.NewRing(5000) // rounded up to a power of two
	if err != nil {
		panic(err)
	}
	fmt.Println("cap", b.Cap())

	b.Write(make([]byte, b.Cap()-4))
	b.Write([]byte("ab"))
	b.Discard(b.Cap() - 4) // "ab" sits just before the end of the buffer
	b.Write([]byte("cdefgh"))
	head, tail := b.Peek()
	fmt.Printf("%d buffered: %q %q\n", b.Len(), head, tail)

	p := make([]byte, 16)
	n := b.Read(p)
	fmt.Printf("%q empty=%v\n", p[:n], b.Empty())
	// Output:
	// cap 8192
	// 8 buffered: "abcd" "efgh"
	// "abcdefgh" empty=true
}

// ReadFrom and WriteTo move bytes between nonblocking fds and a Ring,
// reporting EAGAIN and end of file the way an event loop needs.
func ExampleRing_ReadFrom() {
	r, w, err := fdio.Pipe(true, false)
	if err != nil {
		panic(err)
	}
	defer unix.Close(r)
	b, _ := fdops.NewRing(fdops.MinRing)

	unix.Write(w, []byte("ping"))
	n, err := b.ReadFrom(nil, r)
	fmt.Println(n, err)

	_, err = b.ReadFrom(nil, r)
	fmt.Println(errors.Is(err, unix.EAGAIN), err)

	unix.Close(w)
	_, err = b.ReadFrom(nil, r)
	fmt.Println(err == io.EOF)

	head, _ := b.Peek()
	fmt.Printf("%q\n", head)
	// Output:
	// 4 <nil>
	// true read: resource temporarily unavailable
	// true
	// "ping"
}
