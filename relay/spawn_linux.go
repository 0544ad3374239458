//go:build linux

package relay

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/pipeloop/pipeloop/internal/label"
	"github.com/pipeloop/pipeloop/loop"
	"golang.org/x/sys/unix"
)

// shell runs executable files the kernel does not recognise (ENOEXEC), as
// execvp(3) and every shell do.
const shell = "/bin/sh"

// spawn starts argv with the given fds as 0, 1 and 2 and returns its pid
// and pidfd. The fds pipeloop keeps are close-on-exec, so the child sees
// exactly 0, 1 and 2 (plus whatever pipeloop itself inherited without
// close-on-exec, as a shell would pass on). Signal handlers pipeloop
// installed (SIGPIPE included) revert to their defaults across exec.
//
// With group set the child leads a new process group (Setpgid), so that
// Pipeline.Signal reaches the processes it starts too.
//
// The child gets SIGKILL when its parent dies (PR_SET_PDEATHSIG), so a
// stage does not run on as an orphan when pipeloop is killed with SIGKILL
// (only the stage itself: its own children are beyond reach then). The
// kernel ties this to the thread that forked, not the process: stages are
// forked on the loop thread, which Loop.Run keeps locked while it runs and
// then hands back to the Go runtime, which keeps its threads; a pipeline
// must not be started from a goroutine that exits while locked to its
// thread, which would make the runtime end the thread and kill the stages.
//
// A file that execve refuses with ENOEXEC (a script without "#!") is run
// as "/bin/sh path args...", as execvp(3) does — unless its first line
// holds a NUL byte: then it is a binary for another machine, and like
// bash we report "exec format error" (126) rather than feed it to sh.
func spawn(path string, argv []string, env []string, dir string, stdin, stdout, stderr int, group bool) (pid, pidfd int, err error) {
	pid, pidfd, err = forkExec(path, argv, env, dir, stdin, stdout, stderr, group)
	if errors.Is(err, unix.ENOEXEC) && isText(path) {
		shArgv := append([]string{shell, path}, argv[1:]...)
		return forkExec(shell, shArgv, env, dir, stdin, stdout, stderr, group)
	}
	return pid, pidfd, err
}

func forkExec(path string, argv []string, env []string, dir string, stdin, stdout, stderr int, group bool) (pid, pidfd int, err error) {
	pidfd = -1
	attr := &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: []uintptr{uintptr(stdin), uintptr(stdout), uintptr(stderr)},
		Sys:   &syscall.SysProcAttr{PidFD: &pidfd, Setpgid: group, Pdeathsig: syscall.SIGKILL},
	}
	pid, err = syscall.ForkExec(path, argv, attr)
	if err != nil {
		return 0, -1, err
	}
	return pid, pidfd, nil
}

// isText reports whether path's first line (up to 80 bytes, bash's
// check_binary_file) has no NUL byte, so it may be a shell script.
func isText(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 80)
	n, _ := f.Read(buf)
	line, _, _ := bytes.Cut(buf[:n], []byte("\n"))
	return bytes.IndexByte(line, 0) < 0
}

// stdFDs are the stdin and stdout a stage is started with.
type stdFDs struct{ in, out int }

// forked is what forking one stage gave.
type forked struct {
	pid, pidfd int
	err        error
	start, end time.Time // end only when err is set
}

// forkStages forks every stage of j with child[i] as its stdin and stdout
// (and j.stderr as its stderr). It touches nothing but j, so it runs on
// whichever thread forks: the loop's (loop.Spawning) or the spawner's.
func forkStages(j *spawnJob) {
	j.res = make([]forked, len(j.paths))
	for i := range j.paths {
		f := &j.res[i]
		f.start = time.Now()
		f.pid, f.pidfd, f.err = spawn(j.paths[i], j.argv[i], j.env, j.dir, j.child[i].in, j.child[i].out, j.stderr, j.group)
		if f.err != nil {
			f.end = time.Now()
		}
	}
}

// watchStages records what forkStages gave and registers every started
// stage with the loop. A stage that cannot be executed is recorded as a
// StartError (126/127) and the others still run, as in a shell. A stage
// the loop cannot watch is killed and reaped, recorded as a StartError
// (126) too, and the first such error is returned. Loop goroutine only.
func (p *Pipeline) watchStages(j *spawnJob) error {
	var first error
	for i, f := range j.res {
		st := p.stages[i]
		st.Start = f.start
		if f.err != nil {
			code := 126
			if errors.Is(f.err, unix.ENOENT) {
				code = 127
			}
			st.StartErr = &StartError{Stage: i + 1, Name: st.Name, Code: code,
				Err: fmt.Errorf("%s: %w", j.argv[i][0], os.NewSyscallError("fork/exec", f.err))}
			st.End = f.end
			continue // like a shell: the other stages run, this one "exits" 126/127
		}
		idx := i
		proc, err := p.r.l.WatchProcess(f.pid, f.pidfd, func(ps *loop.ProcessState) { p.stageExited(idx, ps) })
		if err != nil {
			unix.Kill(f.pid, unix.SIGKILL)
			var ws unix.WaitStatus
			unix.Wait4(f.pid, &ws, 0, nil)
			err = fmt.Errorf("%s: %w", label.Stage(i+1, st.Name), err)
			st.StartErr = &StartError{Stage: i + 1, Name: st.Name, Code: 126, Err: err}
			st.End = time.Now()
			if first == nil {
				first = err
			}
			continue
		}
		st.Pid = f.pid
		p.procs[i] = proc
		p.running++
	}
	return first
}
