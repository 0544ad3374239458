/* epoll.c — the floor of an event-loop relay: one thread, level-triggered
 * epoll, stdin and stdout O_NONBLOCK, a 64 KiB buffer and partial writes.
 * It waits for stdin while the buffer is empty and for stdout while it
 * holds data, as pipeloop does. The latency benchmark compiles it with cc
 * at run time (test/bench/tools.go). */
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

static int watch(int ep, int op, int fd, unsigned ev) {
	struct epoll_event e = {.events = ev, .data.fd = fd};
	return epoll_ctl(ep, op, fd, &e);
}

int main(void) {
	static char buf[65536];
	size_t head = 0, tail = 0; /* buf[head:tail] waits to be written */
	int eof = 0, draining = 0; /* draining: waiting on stdout, not stdin */
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_NONBLOCK);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || watch(ep, EPOLL_CTL_ADD, 0, EPOLLIN) < 0 || watch(ep, EPOLL_CTL_ADD, 1, 0) < 0)
		return 1;
	for (;;) {
		struct epoll_event evs[2];
		int n = epoll_wait(ep, evs, 2, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 1;
		if (head == tail && !eof) {
			ssize_t m = read(0, buf, sizeof buf);
			if (m == 0)
				eof = 1;
			else if (m < 0 && errno != EAGAIN && errno != EINTR)
				return 1;
			else if (m > 0)
				head = 0, tail = m;
		}
		while (head < tail) {
			ssize_t m = write(1, buf + head, tail - head);
			if (m < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (m < 0)
				return 1;
			head += m;
		}
		if (head == tail && eof)
			return 0;
		/* Level-triggered: wait on exactly one end, and tell epoll only
		 * when that end changes (never, while writes complete). */
		if (draining != (head < tail)) {
			draining = head < tail;
			watch(ep, EPOLL_CTL_MOD, 0, draining ? 0 : EPOLLIN);
			watch(ep, EPOLL_CTL_MOD, 1, draining ? EPOLLOUT : 0);
		}
	}
}
