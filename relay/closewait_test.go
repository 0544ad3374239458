package relay_test

import (
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/testfd"
	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
)

// fullQueueEnv is a loop whose Post queue holds one function, and a relay
// on it.
func fullQueueEnv(t *testing.T, opts relay.Options) *env {
	t.Helper()
	return newEnvOn(t, loop.Options{MaxPosted: 1}, opts)
}

// closeWithFullQueue fills the loop's Post queue from the loop thread,
// gives a helper goroutine (started by arm) time to try to signal the
// loop, and closes the relay there: Close waits for that goroutine, which
// must not be stuck waiting for queue room only the loop thread can make.
func closeWithFullQueue(t *testing.T, e *env, arm func()) {
	t.Helper()
	closed := make(chan struct{})
	err := e.l.Post(func() {
		if err := e.l.Post(func() {}); err != nil {
			t.Errorf("filling the queue: %v", err)
		}
		arm()
		time.Sleep(200 * time.Millisecond) // the goroutine signals the loop now
		e.r.Close()
		close(closed)
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		e.ran = nil // the loop is stuck: stopping it at cleanup would wait forever too
		t.Fatal("Relay.Close still waiting after 10 s: a goroutine it joins is stuck in Post on the full queue")
	}
}

// TestCloseWhilePostQueueFull: Relay.Close on the loop thread joins
// transform workers and the spawner thread; their wake-ups of the loop
// must not wait for room in a full Post queue, or Close waits forever.
func TestCloseWhilePostQueueFull(t *testing.T) {
	t.Run("transform", func(t *testing.T) {
		e := fullQueueEnv(t, relay.Options{})
		entered, gate := make(chan struct{}, 1), make(chan struct{}) // entered holds the signal until the test looks
		slow := relay.TransformFunc(func(dst, src []byte) ([]byte, error) {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-gate
			return append(dst, src...), nil
		})
		inR, inW := testfd.Pipe(t, true, false)
		_, outW := testfd.Pipe(t, false, true)
		e.do(func() {
			_, err := e.r.NewLink(relay.LinkConfig{Transform: slow,
				Src: relay.Endpoint{FD: inR, Name: "in"}, Dst: relay.Endpoint{FD: outW, Name: "out"}})
			if err != nil {
				t.Error(err)
			}
		})
		testfd.WriteAll(t, inW, []byte("one chunk"))
		<-entered
		closeWithFullQueue(t, e, func() { close(gate) })
	})
	t.Run("spawner", func(t *testing.T) {
		e := fullQueueEnv(t, relay.Options{AsyncSpawn: true})
		exited := make(chan struct{})
		closeWithFullQueue(t, e, func() {
			_, err := e.r.StartPipeline(relay.PipelineConfig{
				Stages: []relay.Stage{{Args: []string{"true"}}},
				OnExit: func(*relay.Pipeline) { close(exited) },
			})
			if err != nil {
				t.Error(err)
			}
		})
		wait(t, exited, "pipeline exit")
	})
}
