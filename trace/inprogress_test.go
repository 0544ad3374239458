//go:build linux && amd64

package trace_test

import (
	"testing"

	"github.com/pipeloop/pipeloop/trace"
)

// What Watch seeds from /proc for a thread asleep at attach: a splice
// from an empty socket into a pipe with room waits on the socket, not a
// pipe stall (its wchan is the socket's, not pipe_wait_*).
func TestInProgressSpliceOnSocket(t *testing.T) {
	in, toChild, _ := pipe(t)
	fromChild, out, _ := pipe(t)
	defer fromChild.Close()
	defer toChild.Close()
	g := newGroup(t)
	c := g.start("socksplicer", in, out)
	in.Close()
	out.Close()
	pid := c.cmd.Process.Pid
	g.release()
	leaderBlockedIn(t, pid, 275) // splice, from the empty socket
	if d, ino, ok := trace.InProgressOf(pid, pid); ok {
		t.Errorf("a splice waiting on a socket seeds a %v wait on pipe:[%d]", d, ino)
	}
}
