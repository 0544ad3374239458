package loop_test

import (
	"context"
	"testing"

	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// TestZeroLoop: a Loop not made by New has no fds of its own; its fields
// would name fd 0, which under inetd or socket activation is a client's
// socket. Every method must refuse with an error or do nothing, and never
// write to or close fd 0, which here is a pipe's write end.
func TestZeroLoop(t *testing.T) {
	saved, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		t.Fatal(err)
	}
	r, w := pipe(t)
	if err := unix.Dup2(w, 0); err != nil {
		t.Fatal(err)
	}
	defer func() {
		unix.Dup2(saved, 0)
		unix.Close(saved)
	}()
	var l loop.Loop
	l.Stop()
	errs := map[string]error{
		"Wake":     l.Wake(),
		"Post":     l.Post(func() {}),
		"Notify":   l.NewNotifier(func() {}).Notify(),
		"Register": l.Register(r, loop.Readable, loop.HandlerFunc(func(loop.Events) {})),
		"Run":      l.Run(context.Background()),
		"Close":    l.Close(),
	}
	_, werr := l.WatchProcess(unix.Getpid(), -1, nil)
	errs["WatchProcess"] = werr
	for name, err := range errs {
		if err == nil {
			t.Errorf("%s on a zero Loop succeeded", name)
		}
	}
	if _, err := unix.FcntlInt(0, unix.F_GETFD, 0); err != nil {
		t.Fatalf("fd 0 was closed by the zero Loop: %v", err)
	}
	var buf [8]byte
	if n, _ := unix.Read(r, buf[:]); n > 0 {
		t.Errorf("the zero Loop wrote %x to fd 0", buf[:n])
	}
}

// TestNilFunctions: Post(nil) and a Notifier of nil are errors when made,
// not a crash of the loop goroutine later.
func TestNilFunctions(t *testing.T) {
	l := newLoop(t, loop.Options{})
	defer l.Close()
	if err := l.Post(nil); err == nil {
		t.Error("Post(nil) succeeded")
	}
	if err := l.NewNotifier(nil).Notify(); err == nil {
		t.Error("Notify of a nil function succeeded")
	}
}
