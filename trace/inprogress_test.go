//go:build linux && amd64

package trace_test

import (
	"testing"

	"github.com/pipeloop/pipeloop/trace"
)

// What Watch seeds from /proc for a thread asleep at attach: a splice
// from an empty socket into a pipe with room waits on the socket, not a
// pipe stall (its wchan is the socket's, not pipe_wait_*). The child's
// stdin holds data, so its second splice (into a full socket) waits on
// the socket too, whichever of the two this test sees.
func TestInProgressSpliceOnSocket(t *testing.T) {
	in, toChild, _ := pipe(t)
	fromChild, out, _ := pipe(t)
	defer fromChild.Close()
	defer toChild.Close()
	g := newGroup(t)
	c := g.start("socksplicer", in, out, "PIPELOOP_TRACE_SLEEP=10s")
	in.Close()
	out.Close()
	if _, err := toChild.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	pid := c.cmd.Process.Pid
	g.release()
	tid := blockedIn(t, pid, 275) // splice, from the empty socket
	if d, ino, ok := trace.InProgressOf(pid, tid); ok {
		t.Errorf("a splice waiting on a socket seeds a %v wait on pipe:[%d]", d, ino)
	}
}
