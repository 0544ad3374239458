//go:build linux && amd64

// What the tracer reads from /proc, and the pidfd and clock it needs.

package trace

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// alive reports whether process tgid has a thread that is neither a
// zombie nor dead. A leader that exited before its other threads is a
// zombie while they run, so every thread is looked at.
func alive(tgid int) bool {
	dir := "/proc/" + strconv.Itoa(tgid) + "/task/"
	for _, tid := range threads(tgid) {
		stat, err := os.ReadFile(dir + strconv.Itoa(tid) + "/stat")
		if err != nil {
			continue
		}
		// "pid (comm) S ...": comm may hold spaces and parentheses.
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
			if st := stat[i+2]; st != 'Z' && st != 'X' && st != 'x' {
				return true
			}
		}
	}
	return false
}

// threadGroup returns the tgid of the process that thread pid belongs to.
func threadGroup(pid int) (int, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("trace: watch pid %d: invalid pid", pid)
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("trace: watch pid %d: %w", pid, syscall.ESRCH)
		}
		return 0, fmt.Errorf("trace: watch pid %d: %w", pid, err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			if tgid, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				return tgid, nil
			}
		}
	}
	return 0, fmt.Errorf("trace: watch pid %d: no Tgid in /proc/%d/status", pid, pid)
}

// threads returns the thread ids of process tgid (none if it is gone).
func threads(tgid int) []int {
	ents, _ := os.ReadDir("/proc/" + strconv.Itoa(tgid) + "/task")
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids
}

// pidfdOpen returns a pidfd for thread tid: the key of task storage.
// Before Linux 6.9 (no PIDFD_THREAD) only a thread group leader has one.
func pidfdOpen(tid int) (int, error) {
	fd, err := unix.PidfdOpen(tid, unix.PIDFD_THREAD)
	if err == unix.EINVAL { // older kernel: leaders only
		fd, err = unix.PidfdOpen(tid, 0)
	}
	if err != nil {
		return -1, os.NewSyscallError("pidfd_open", err)
	}
	return fd, nil
}

// monotonicNow returns CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns.
func monotonicNow() (uint64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, fmt.Errorf("trace: %w", os.NewSyscallError("clock_gettime", err))
	}
	return uint64(ts.Nano()), nil
}

// procComm returns the name of process pid, or "" if it is gone.
func procComm(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
