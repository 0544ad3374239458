package fdops

import (
	"io"

	"golang.org/x/sys/unix"
)

// SpliceFlags are the flags pipeloop splices with: never block on the pipe
// end(s), and ask the kernel to move pages rather than copy them.
const SpliceFlags = unix.SPLICE_F_NONBLOCK | unix.SPLICE_F_MOVE

// Splice moves up to n bytes from in to out with splice(2); at least one of
// them must be a pipe. EINTR is retried. It returns:
//   - (m, nil) with m > 0 after a transfer;
//   - (0, io.EOF) when in is at end of file;
//   - (0, unix.EAGAIN wrapped) when in is empty or out is full — splice
//     does not say which, so callers retry on the next readiness change of
//     either end;
//   - (0, *os.SyscallError("splice", errno)) otherwise; EINVAL means this
//     pair of files cannot be spliced and the caller should copy instead.
func Splice(ops Ops, in, out, n int) (int, error) {
	ops = orSys(ops)
	for {
		m, err := ops.Splice(in, out, n, SpliceFlags)
		if err == unix.EINTR {
			continue
		}
		if m > 0 {
			return m, nil
		}
		if err != nil {
			return 0, syscallError("splice", err)
		}
		return 0, io.EOF
	}
}
