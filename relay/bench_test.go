package relay_test

import (
	"testing"

	"github.com/pipeloop/pipeloop/internal/faultfd"
	"github.com/pipeloop/pipeloop/internal/fdops"
	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// passThrough is the thinnest Ops wrapper: what the seam costs when a
// test wraps it with something that does nothing.
type passThrough struct{ fdops.Ops }

// BenchmarkLinkSeam moves 1 MiB per operation through a link between two
// pipes (a goroutine writes, another reads), with the relay's Ops being
// the real system calls, a pass-through wrapper, or an Injector that
// injects nothing. The three should be within noise: the fault-injection
// seam costs the production path nothing measurable.
func BenchmarkLinkSeam(b *testing.B) {
	for _, mode := range []relay.Mode{relay.ModeCopy, relay.ModeSplice} {
		for _, bc := range []struct {
			name string
			ops  fdops.Ops
		}{
			{"sys", fdops.Sys{}},
			{"passthrough", passThrough{fdops.Sys{}}},
			{"injector-off", faultfd.MustNew(nil, faultfd.Config{})},
		} {
			b.Run(mode.String()+"/"+bc.name, func(b *testing.B) {
				benchLink(b, relay.WithOps(relay.Options{Mode: mode}, bc.ops))
			})
		}
	}
}

func benchLink(b *testing.B, opts relay.Options) {
	const chunk = 1 << 20
	e := newEnv(b, opts)
	src := newPair(b, "pipe", true, 1<<20)
	dst := newPair(b, "pipe", false, 1<<20)
	done := make(chan struct{})
	e.do(func() {
		_, err := e.r.NewLink(relay.LinkConfig{
			Src:    relay.Endpoint{FD: src.relay, Name: "src", Owned: true},
			Dst:    relay.Endpoint{FD: dst.relay, Name: "dst", Owned: true},
			OnDone: func(*relay.Link) { close(done) },
		})
		if err != nil {
			b.Error(err)
			unix.Close(src.relay)
			unix.Close(dst.relay)
			close(done)
		}
	})
	b.SetBytes(chunk)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		buf := make([]byte, chunk)
		for range b.N {
			if _, err := src.test.Write(buf); err != nil {
				break
			}
		}
		src.test.Close()
	}()
	buf := make([]byte, chunk)
	for {
		if _, err := dst.test.Read(buf); err != nil {
			break
		}
	}
	dst.test.Close()
	<-done
}
