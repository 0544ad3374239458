//go:build linux

package fdio

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// PipeDefaultPages is the number of pages a new pipe holds (PIPE_DEF_BUFFERS):
// 64 KiB with 4 KiB pages.
const PipeDefaultPages = 16

// PipeLimits are the kernel's limits on the capacity of this process's
// pipes (pipe(7)). The kernel charges every pipe's pages to the user who
// created it. Past the soft limit, an unprivileged user's new pipes get
// two pages (8 KiB) and no pipe of theirs may grow: one program that
// sizes many pipes generously spends the budget of every program the user
// runs.
type PipeLimits struct {
	Default int // capacity of a new pipe while the user is within budget
	// Max is /proc/sys/fs/pipe-max-size: the most F_SETPIPE_SZ may ask
	// without CAP_SYS_RESOURCE (EPERM above it).
	Max int
	// UserSoft is /proc/sys/fs/pipe-user-pages-soft in bytes; 0: no limit.
	UserSoft int
	// AboveMax: CAP_SYS_RESOURCE, Max does not apply.
	AboveMax bool
	// Unbudgeted: CAP_SYS_RESOURCE or CAP_SYS_ADMIN, the per-user
	// limits do not apply.
	Unbudgeted bool
}

// ReadPipeLimits reads the limits from /proc/sys/fs and the process's
// effective capabilities.
func ReadPipeLimits() (PipeLimits, error) {
	page := os.Getpagesize()
	l := PipeLimits{Default: PipeDefaultPages * page}
	var err error
	if l.Max, err = readProcInt("/proc/sys/fs/pipe-max-size"); err != nil {
		return l, err
	}
	soft, err := readProcInt("/proc/sys/fs/pipe-user-pages-soft")
	if err != nil {
		return l, err
	}
	l.UserSoft = soft * page
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return l, os.NewSyscallError("capget", err)
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	l.AboveMax = has(unix.CAP_SYS_RESOURCE)
	l.Unbudgeted = l.AboveMax || has(unix.CAP_SYS_ADMIN)
	return l, nil
}

func readProcInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}
