//go:build linux

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
func alive(tgid int) bool { return hasThread(tgid, false) }

// staying reports whether process tgid has a thread that is neither a
// zombie nor dead nor exiting (PF_EXITING): one that has not yet reached
// sched_process_exit. Since Linux 6.16 that tracepoint fires before the
// address space is freed, so a large process is past it for a long time
// while /proc still shows it running.
//
// Invariant: a tgid put in the watched map before staying found such a
// thread is removed by that thread's exit, or a later one's.
func staying(tgid int) bool { return hasThread(tgid, true) }

func hasThread(tgid int, notExiting bool) bool {
	for _, tid := range threads(tgid) {
		state, flags, ok := threadStat(tgid, tid)
		if !ok || state == 'Z' || state == 'X' || state == 'x' {
			continue
		}
		if notExiting && flags&pfExiting != 0 {
			continue
		}
		return true
	}
	return false
}

// Task flags (/proc/PID/stat field 9, PF_* in include/linux/sched.h).
const (
	pfExiting  = 0x4  // PF_EXITING: the thread is in do_exit
	pfIOWorker = 0x10 // PF_IO_WORKER: an io_uring worker (iou-wrk-*, iou-sqp-*)
)

// threadStat returns thread tid of process tgid's state letter and task
// flags, from /proc/TGID/task/TID/stat; ok is false if it cannot be read.
func threadStat(tgid, tid int) (state byte, flags uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tgid) + "/task/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// "tid (comm) S ppid pgrp session tty_nr tpgid flags ...": comm may
	// hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 7 || len(f[0]) != 1 {
		return 0, 0, false
	}
	flags, err = strconv.ParseUint(f[6], 10, 64)
	return f[0][0], flags, err == nil
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
