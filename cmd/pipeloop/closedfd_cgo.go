//go:build linux && cgo

package main

/*
#include <errno.h>
#include <fcntl.h>

// pipeloop_closed_at_exec[fd] is 1 when fd was closed at exec. The
// constructor runs before the Go runtime starts, so before its checkfds
// puts /dev/null on a closed 0, 1 or 2.
static int pipeloop_closed_at_exec[3];

__attribute__((constructor)) static void pipeloop_check_stdio(void) {
	for (int fd = 0; fd < 3; fd++)
		pipeloop_closed_at_exec[fd] = fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

static int pipeloop_closed(int fd) { return fd >= 0 && fd < 3 && pipeloop_closed_at_exec[fd]; }
*/
import "C"

// closedAtExec reports whether fd (0, 1 or 2) was closed when pipeloop was
// executed (`<&-`, `>&-`).
//
// The Go runtime cannot leave 0, 1 or 2 free: before any Go code runs,
// runtime.checkfds opens /dev/null O_RDWR on each closed one, which looks
// the same as the read-write /dev/null that Python's subprocess.DEVNULL or
// libuv's "ignore" give on purpose. So the fds are looked at earlier, by a
// C constructor, which runs before the runtime. Without cgo (no C
// compiler, or a cross build) there is no such look, and closedAtExec is
// always false (closedfd_nocgo.go).
func closedAtExec(fd int) bool { return C.pipeloop_closed(C.int(fd)) != 0 }
