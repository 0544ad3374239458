/* blocking.c — the floor of a blocking relay: one thread, read(2) stdin
 * into a 64 KiB buffer, write(2) all of it to stdout, until EOF. The latency
 * benchmark compiles it with cc at run time (test/bench/tools.go). */
#include <errno.h>
#include <unistd.h>

int main(void) {
	static char buf[65536];
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 1;
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			ssize_t m = write(1, buf + off, n - off);
			if (m < 0 && errno == EINTR)
				continue;
			if (m < 0)
				return 1;
			off += m;
		}
	}
}
