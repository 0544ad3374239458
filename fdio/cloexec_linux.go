package fdio

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeRangeCloexec is CLOSE_RANGE_CLOEXEC from <linux/close_range.h>.
const closeRangeCloexec = 1 << 2

// CloexecFrom marks every fd >= first close-on-exec, so that children get
// only the descriptors handed to them explicitly. pipeloop calls it at
// startup: a stage sees exactly 0, 1 and 2, not whatever pipeloop itself
// inherited. It uses close_range(2) (Linux 5.11+) and falls back to walking
// /proc/self/fd.
func CloexecFrom(first int) error {
	err := unix.CloseRange(uint(first), ^uint(0), closeRangeCloexec)
	if err == nil {
		return nil
	}
	if err != unix.ENOSYS && err != unix.EINVAL {
		return os.NewSyscallError("close_range", err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < first {
			continue
		}
		unix.CloseOnExec(fd) // the directory's own fd may be gone: ignore errors
	}
	return nil
}
