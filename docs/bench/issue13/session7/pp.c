/* pp: a pinned pipe ping-pong between two processes, one byte each way;
 * prints ns per round trip (two context switches on one CPU).
 * Usage: pp TRIPS [SLEEP]: with SLEEP it first prints "parent,child" pids
 * and sleeps SLEEP seconds (time for a tracer to attach). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	long n = atol(argv[1]);
	int a[2], b[2];
	char c = 0;
	struct timespec s, e;

	if (pipe(a) || pipe(b))
		return 1;
	pid_t p = fork();
	if (!p) {
		for (long i = 0; i < n; i++) {
			read(a[0], &c, 1);
			write(b[1], &c, 1);
		}
		_exit(0);
	}
	if (argc > 2) {
		printf("%d,%d\n", getpid(), p);
		fflush(stdout);
		sleep(atoi(argv[2]));
	}
	clock_gettime(CLOCK_MONOTONIC, &s);
	for (long i = 0; i < n; i++) {
		write(a[1], &c, 1);
		read(b[0], &c, 1);
	}
	clock_gettime(CLOCK_MONOTONIC, &e);
	waitpid(p, 0, 0);
	printf("%.1f ns/trip\n", ((e.tv_sec - s.tv_sec) * 1e9 + (e.tv_nsec - s.tv_nsec)) / n);
	return 0;
}
