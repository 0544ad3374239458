//go:build linux

package main

import (
	"fmt"
	"time"

	"github.com/pipeloop/pipeloop/relay"
	"golang.org/x/sys/unix"
)

// inputTotal is what --progress knows of the whole input, for its
// percentage and ETA: a regular file on stdin (its size from fstat, how
// far it has been read from the file position, which stage 1 shares in a
// pipeline), or --size SIZE (then the bytes of the first link count).
type inputTotal struct {
	fd    int   // a dup of stdin, for lseek; -1 when counting link 1's bytes
	start int64 // stdin's position when pipeloop started
	total int64 // bytes expected from start on; 0 = unknown
}

// newInputTotal looks at stdin; size is --size (0: none), which wins
// over a file's size. It returns nil when the total is not known.
func newInputTotal(in int, size int64) (*inputTotal, error) {
	t := &inputTotal{fd: -1, total: size}
	var st unix.Stat_t
	if err := unix.Fstat(in, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		if size == 0 {
			return nil, nil
		}
		return t, nil
	}
	// A dup shares the position; close-on-exec, so no stage holds it.
	fd, err := unix.FcntlInt(uintptr(in), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, fmt.Errorf("--progress: fcntl(F_DUPFD_CLOEXEC) on stdin: %w", err)
	}
	start, err := unix.Seek(fd, 0, unix.SEEK_CUR)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("--progress: lseek on stdin: %w", err)
	}
	t.fd, t.start = fd, start
	if size == 0 {
		t.total = max(st.Size-start, 0)
	}
	if t.total == 0 {
		t.close()
		return nil, nil // an empty file: nothing to show a share of
	}
	return t, nil
}

// done is how many of the total bytes have gone by. Loop goroutine.
func (t *inputTotal) done(links []relay.LinkStats) int64 {
	if t.fd >= 0 {
		if off, err := unix.Seek(t.fd, 0, unix.SEEK_CUR); err == nil {
			return off - t.start
		}
		return 0
	}
	if len(links) > 0 {
		return int64(links[0].Bytes)
	}
	return 0
}

func (t *inputTotal) close() {
	if t != nil && t.fd >= 0 {
		unix.Close(t.fd)
		t.fd = -1
	}
}

// etaText is the share done and the time left at the average rate so
// far, as --progress shows them: "42% ETA 0:07". The final line shows the
// share alone.
func etaText(done, total int64, elapsed time.Duration, final bool) string {
	f := min(float64(done)/float64(total), 1)
	if final || done <= 0 || elapsed <= 0 {
		return fmt.Sprintf("%.0f%%", 100*f)
	}
	if done >= total {
		return "100% ETA 0:00"
	}
	left := time.Duration(float64(elapsed) * float64(total-done) / float64(done))
	return fmt.Sprintf("%.0f%% ETA %s", 100*f, clock(left+time.Second-1)) // rounded up: never 0:00 before the end
}
