//go:build linux

package main

import (
	"golang.org/x/sys/unix"
)

// closedAtExec reports whether fd was closed when pipeloop was executed.
//
// The Go runtime cannot leave 0, 1 or 2 free (the next file opened would
// land there): before any Go code runs, runtime.checkfds opens /dev/null
// O_RDWR on each one that is closed, each with its own open file
// description. So a closed stdin or stdout looks like /dev/null by the
// time we can look, and `pipeloop >&-` would quietly write into it where
// a shell command fails with "Bad file descriptor".
//
// What tells the runtime's /dev/null from one given on purpose:
//   - A shell's `</dev/null` or `>/dev/null`, and os/exec's nil Stdin or
//     Stdout, open it read-only or write-only; the runtime opens O_RDWR.
//   - daemon(3) and similar set-ups open /dev/null O_RDWR once and dup it
//     onto 0, 1 and 2, so those share one description; the runtime's are
//     each private. kcmp(2) KCMP_FILE tells whether two fds share one.
//
// So fd counts as closed if it is /dev/null opened O_RDWR and no other
// standard fd shares its description. The one case this gets wrong is a
// deliberate `<>/dev/null` on that fd alone, which nothing does in
// practice. If kcmp is unavailable (a kernel without CONFIG_KCMP) the
// first test alone decides.
func closedAtExec(fd int) bool {
	var st, null unix.Stat_t
	if unix.Fstat(fd, &st) != nil || unix.Stat("/dev/null", &null) != nil {
		return false
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != null.Rdev {
		return false
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_ACCMODE != unix.O_RDWR {
		return false
	}
	for other := 0; other <= 2; other++ {
		if other != fd && sameFile(fd, other) {
			return false
		}
	}
	return true
}

// kcmpFile is KCMP_FILE from <linux/kcmp.h>.
const kcmpFile = 0

// sameFile reports whether fds a and b of this process share one open
// file description.
func sameFile(a, b int) bool {
	pid := unix.Getpid()
	r, _, errno := unix.Syscall6(unix.SYS_KCMP, uintptr(pid), uintptr(pid), kcmpFile, uintptr(a), uintptr(b), 0)
	return errno == 0 && r == 0
}
