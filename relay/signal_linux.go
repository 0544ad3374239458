//go:build linux

package relay

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Signal sends sig to every stage still running (through its pidfd), or
// with ProcessGroups to the process group of every stage not yet reaped
// (the unreaped leader keeps the group id from being reused). With
// SignalDescendants the stages' descendants get it first. Before stages
// forked with Options.AsyncSpawn exist, sig is kept and sent to them as
// soon as they do.
func (p *Pipeline) Signal(sig syscall.Signal) {
	if p.r != nil {
		p.r.l.AssertLoopThread("relay.Pipeline.Signal")
	}
	if p.spawning {
		p.pending = append(p.pending, sig)
		return
	}
	for _, pr := range p.procs {
		if pr == nil {
			continue
		}
		_, exited := pr.Exited()
		if p.groups && !exited {
			unix.Kill(-pr.Pid, sig)
			continue
		}
		if p.tree && !exited {
			signalDescendants(pr.Pid, sig)
		}
		pr.Signal(sig)
	}
}

// maxDescendants bounds the process tree signalDescendants walks, so a
// fork bomb in a stage cannot keep the loop thread busy.
const maxDescendants = 4096

// signalDescendants sends sig to every descendant of pid (pid itself
// excluded) found in /proc/PID/task/TID/children. The whole tree is
// collected before anything is signalled, since a parent that dies first
// would hand its children to init and out of reach. Each process is held
// by a pidfd that is checked against its parent before use, so a pid
// reused meanwhile is never signalled: once the pidfd is open, a process
// whose parent is the one we listed it under is that parent's child,
// whichever it is. Best effort: a child forked after its parent's list was
// read is missed, as are children reparented away before the walk.
// Needs CONFIG_PROC_CHILDREN (on in the usual distribution kernels).
func signalDescendants(pid int, sig unix.Signal) {
	var fds []int
	queue := []int{pid}
	for len(queue) > 0 && len(fds) < maxDescendants {
		parent := queue[0]
		queue = queue[1:]
		for _, c := range childrenOf(parent) {
			fd, err := unix.PidfdOpen(c, 0)
			if err != nil {
				continue // gone already
			}
			if parentOf(c) != parent {
				unix.Close(fd)
				continue
			}
			fds = append(fds, fd)
			queue = append(queue, c)
		}
	}
	for _, fd := range fds {
		unix.PidfdSendSignal(fd, sig, nil, 0)
		unix.Close(fd)
	}
}

// childrenOf lists pid's children, forked by any of its threads.
func childrenOf(pid int) []int {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	var pids []int
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
	}
	return pids
}

// parentOf is pid's parent from /proc/PID/stat, or -1.
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return -1
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return -1
	}
	return n
}
