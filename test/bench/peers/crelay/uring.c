/* uring.c — the floor of an io_uring relay: one thread, raw io_uring
 * syscalls (no liburing), a 64 KiB buffer. An IORING_OP_READ of stdin is
 * in flight; when it completes with n bytes, one io_uring_enter submits the
 * IORING_OP_WRITE of those n bytes to stdout linked (IOSQE_IO_LINK) to the
 * next read, and waits for the next completion: one syscall per hop,
 * against blocking.c's read(2) + write(2). A short write cancels the linked
 * read; the rest is resubmitted with a new read linked to it.
 *
 * argv[1] picks the ring's setup flags (default "defer"):
 *   defer  IORING_SETUP_SINGLE_ISSUER|IORING_SETUP_DEFER_TASKRUN
 *   coop   IORING_SETUP_SINGLE_ISSUER|IORING_SETUP_COOP_TASKRUN
 *   plain  no flags
 * A kernel that refuses the flags gets the next in that order. The latency
 * benchmark compiles it with cc at run time (test/bench/tools.go). */
#include <errno.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TAG_READ 1
#define TAG_WRITE 2

static int ring_fd;
static unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
static unsigned *cq_head, *cq_tail, *cq_mask;
static struct io_uring_sqe *sqes;
static struct io_uring_cqe *cqes;
static unsigned tail; /* our copy of *sq_tail */

static char buf[65536];

static struct io_uring_sqe *next_sqe(void) {
	struct io_uring_sqe *s = &sqes[tail & *sq_mask];
	memset(s, 0, sizeof *s);
	return s;
}

static void push(void) {
	tail++;
	__atomic_store_n(sq_tail, tail, __ATOMIC_RELEASE);
}

static void queue_read(void) {
	struct io_uring_sqe *s = next_sqe();
	s->opcode = IORING_OP_READ;
	s->fd = 0;
	s->addr = (unsigned long)buf;
	s->len = sizeof buf;
	s->off = (__u64)-1; /* the file position: pipes have none */
	s->user_data = TAG_READ;
	push();
}

/* queue_write queues the write of buf[off:end] linked to the next read. */
static void queue_write(size_t off, size_t end) {
	struct io_uring_sqe *s = next_sqe();
	s->opcode = IORING_OP_WRITE;
	s->fd = 1;
	s->addr = (unsigned long)(buf + off);
	s->len = end - off;
	s->off = (__u64)-1;
	/* No CQE for a complete write: the enter's wait for one completion
	 * must end on the read, not on this write, which completes inline.
	 * A short or failed write still posts one (and cancels the read). */
	s->flags = IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
	s->user_data = TAG_WRITE;
	push();
	queue_read();
}

static int setup(const char *mode) {
	static const unsigned flags[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int first = 0;
	if (mode && strcmp(mode, "coop") == 0)
		first = 1;
	else if (mode && strcmp(mode, "plain") == 0)
		first = 2;
	else if (mode && strcmp(mode, "defer") != 0) {
		fprintf(stderr, "uring: unknown mode %s (defer, coop, plain)\n", mode);
		return -1;
	}
	struct io_uring_params p;
	for (int i = first; i < 3; i++) {
		memset(&p, 0, sizeof p);
		p.flags = flags[i];
		ring_fd = syscall(__NR_io_uring_setup, 4, &p);
		if (ring_fd >= 0)
			break;
		if (errno != EINVAL || i == 2) {
			fprintf(stderr, "uring: io_uring_setup: %s\n", strerror(errno));
			return -1;
		}
	}
	if (getenv("URING_VERBOSE"))
		fprintf(stderr, "uring: setup flags %#x features %#x\n", p.flags, p.features);
	size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if ((p.features & IORING_FEAT_SINGLE_MMAP) && cq_size > sq_size)
		sq_size = cq_size;
	char *sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		return perror("uring: mmap sq ring"), -1;
	char *cq = sq;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
		cq = mmap(NULL, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_CQ_RING);
		if (cq == MAP_FAILED)
			return perror("uring: mmap cq ring"), -1;
	}
	sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_SQES);
	if (sqes == MAP_FAILED)
		return perror("uring: mmap sqes"), -1;
	sq_head = (unsigned *)(sq + p.sq_off.head);
	sq_tail = (unsigned *)(sq + p.sq_off.tail);
	sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	sq_array = (unsigned *)(sq + p.sq_off.array);
	cq_head = (unsigned *)(cq + p.cq_off.head);
	cq_tail = (unsigned *)(cq + p.cq_off.tail);
	cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	for (unsigned i = 0; i < p.sq_entries; i++)
		sq_array[i] = i; /* SQE i is always slot i */
	tail = *sq_tail;
	return 0;
}

int main(int argc, char **argv) {
	if (setup(argc > 1 ? argv[1] : NULL) < 0)
		return 1;
	size_t off = 0, end = 0; /* buf[off:end] is being written */
	int cancelled = 0;       /* linked reads a short write cancelled */
	queue_read();
	for (;;) {
		unsigned pending = tail - __atomic_load_n(sq_head, __ATOMIC_ACQUIRE);
		int r = syscall(__NR_io_uring_enter, ring_fd, pending, 1, IORING_ENTER_GETEVENTS, NULL, 0);
		if (r < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY) {
			fprintf(stderr, "uring: io_uring_enter: %s\n", strerror(errno));
			return 1;
		}
		unsigned head = *cq_head;
		while (head != __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE)) {
			struct io_uring_cqe *c = &cqes[head & *cq_mask];
			__u64 tag = c->user_data;
			int res = c->res;
			head++;
			if (tag == TAG_READ) {
				if (res == -ECANCELED && cancelled > 0) {
					cancelled--;
				} else if (res == -EINTR || res == -EAGAIN) {
					queue_read();
				} else if (res < 0) {
					fprintf(stderr, "uring: read: %s\n", strerror(-res));
					return 1;
				} else if (res == 0) {
					return 0;
				} else {
					off = 0, end = res;
					queue_write(off, end);
				}
			} else {
				if (res == -EINTR || res == -EAGAIN) {
					cancelled++;
					queue_write(off, end);
				} else if (res < 0) {
					fprintf(stderr, "uring: write: %s\n", strerror(-res));
					return 1;
				} else if ((off += res) < end) {
					cancelled++; /* the short write failed the link */
					queue_write(off, end);
				}
			}
		}
		__atomic_store_n(cq_head, head, __ATOMIC_RELEASE);
	}
}
