package loop_test

import (
	"context"
	"fmt"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// Timers and posted functions run on the loop goroutine, in order.
func Example() {
	l, err := loop.New(loop.Options{})
	if err != nil {
		panic(err)
	}
	l.Post(func() { fmt.Println("posted before Run") })
	l.AfterFunc(20*time.Millisecond, func() {
		fmt.Println("timer at 20ms")
		go func() {
			// Another goroutine hands work to the loop with Post.
			l.Post(func() {
				fmt.Println("posted from a goroutine")
				l.Stop()
			})
		}()
	})
	l.AfterFunc(10*time.Millisecond, func() { fmt.Println("timer at 10ms") })
	l.OnStop(func() { fmt.Println("stopping") })
	err = l.Run(context.Background())
	fmt.Println("Run returned", err)
	// Output:
	// posted before Run
	// timer at 10ms
	// timer at 20ms
	// posted from a goroutine
	// stopping
	// Run returned <nil>
}

// A handler reads a pipe when it becomes readable.
func ExampleLoop_Register() {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		panic(err)
	}
	r, w := p[0], p[1]
	defer unix.Close(r)

	l, err := loop.New(loop.Options{})
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 64)
	err = l.Register(r, loop.Readable, loop.HandlerFunc(func(ev loop.Events) {
		n, _ := unix.Read(r, buf)
		if n <= 0 { // end of file
			fmt.Println("eof, events", ev)
			l.Unregister(r)
			l.Stop()
			return
		}
		fmt.Printf("read %q\n", buf[:n])
	}))
	if err != nil {
		panic(err)
	}
	go func() {
		unix.Write(w, []byte("hello"))
		time.Sleep(10 * time.Millisecond)
		unix.Close(w)
	}()
	if err := l.Run(context.Background()); err != nil {
		panic(err)
	}
	// Output:
	// read "hello"
	// eof, events hup
}
