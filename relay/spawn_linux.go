//go:build linux

package relay

import (
	"bytes"
	"errors"
	"os"
	"syscall"

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
		Sys:   &syscall.SysProcAttr{PidFD: &pidfd, Setpgid: group},
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
