// stall_classify.h: which syscall a task sleeps in, on which pipe and in
// which direction. Read from bpf_task_pt_regs and the task's fd table at
// its switch-out. attach.go's inProgress makes the same decisions from
// /proc for waits already in progress at attach. Included by stall.bpf.c
// only, after the DIR_* constants and struct wait.

#ifndef STALL_CLASSIFY_H
#define STALL_CLASSIFY_H

// bpf_rdonly_cast (a kfunc, Linux 6.2+) turns a pointer read from memory
// into a typed one the program may load from directly, as from a
// tracepoint argument; the verifier replaces the call with a move.
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

// fd_file returns task t's file for fd, or NULL.
static __always_inline struct file *fd_file(struct task_struct *t, long fd)
{
	struct fdtable *fdt;
	struct file **arr;
	struct kiocb *slot;
	struct file *f;

	if (fd < 0)
		return 0;
	fdt = t->files->fdt;
	if (!fdt || (unsigned long)fd >= fdt->max_fds)
		return 0;
	arr = fdt->fd;
	if (!arr)
		return 0;
	// arr is not a BTF pointer the verifier can index. Rather than a
	// helper call to read the slot, its address is cast to a struct
	// whose member at a known offset is a struct file * (struct kiocb's
	// ki_filp), and that member is loaded directly (a fault reads as 0).
	slot = bpf_rdonly_cast((void *)&arr[fd] - bpf_core_field_offset(struct kiocb, ki_filp),
			       bpf_core_type_id_kernel(struct kiocb));
	f = slot->ki_filp;
	if (!f)
		return 0;
	return bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file));
}

// pipe_ino returns the inode number of f if it is a pipe or FIFO, else 0.
static __always_inline u64 pipe_ino(struct file *f)
{
	struct inode *ino;

	if (!f)
		return 0;
	// Direct loads: f is typed (fd_file), and a fault reads as 0.
	ino = f->f_inode;
	if (!ino)
		return 0;
	if ((ino->i_mode & S_IFMT) != S_IFIFO)
		return 0;
	return ino->i_ino;
}

static __always_inline bool pipe_empty(struct file *f)
{
	struct pipe_inode_info *p = BPF_CORE_READ(f, private_data);

	if (!p)
		return 1;
	return BPF_CORE_READ(p, head) == BPF_CORE_READ(p, tail);
}

// pipe_full is the kernel's pipe_full(head, tail, max_usage): no room for
// a writer (what splice into the pipe waits for).
static __always_inline bool pipe_full(struct file *f)
{
	struct pipe_inode_info *p = BPF_CORE_READ(f, private_data);

	if (!p)
		return 0;
	return BPF_CORE_READ(p, head) - BPF_CORE_READ(p, tail) >= BPF_CORE_READ(p, max_usage);
}

// classify fills w->dir and w->inode for the syscall t sleeps in and
// returns 1 if that wait is one to measure.
static __always_inline int classify(struct task_struct *t, struct wait *w)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);
	struct file *in, *out;
	u64 in_ino, out_ino;
	long nr;

	if (!regs)
		return 0;
	// An io_uring worker's registers are a copy of its creator's, taken
	// when it was created: not a syscall it is in. What it sleeps on is
	// the request it runs, which is not read here.
	if (t->flags & PF_IO_WORKER)
		return 0;
	// A 32-bit task uses other syscall numbers: not handled.
	if (bpf_core_field_exists(t->thread_info.status) && (t->thread_info.status & TS_COMPAT))
		return 0;
	nr = regs->orig_ax;
	switch (nr) {
	case NR_read:
	case NR_readv:
	case NR_preadv2: // with offset -1, as on a pipe
		w->dir = DIR_READ;
		w->inode = pipe_ino(fd_file(t, regs->di));
		return w->inode != 0;
	case NR_write:
	case NR_writev:
	case NR_pwritev2:
		w->dir = DIR_WRITE;
		w->inode = pipe_ino(fd_file(t, regs->di));
		return w->inode != 0;
	case NR_vmsplice:
		// vmsplice on a read end copies out of the pipe.
		in = fd_file(t, regs->di);
		w->inode = pipe_ino(in);
		if (!w->inode)
			return 0;
		w->dir = (in->f_mode & (FMODE_READ | FMODE_WRITE)) == FMODE_READ ? DIR_READ : DIR_WRITE;
		return 1;
	case NR_splice:
	case NR_tee:
	case NR_sendfile:
		// splice(fd_in, off_in, fd_out, ...), tee(fd_in, fd_out, ...),
		// sendfile(out_fd, in_fd, ...). With pipes on both sides the
		// task waits on the input if it is empty, else on the output.
		// With a pipe on one side only, it waits on that pipe only if
		// the pipe is empty (input) or full (output): else it waits on
		// the other file (a socket), which is not a pipe stall.
		if (nr == NR_sendfile) {
			out = fd_file(t, regs->di);
			in = fd_file(t, regs->si);
		} else if (nr == NR_tee) {
			in = fd_file(t, regs->di);
			out = fd_file(t, regs->si);
		} else {
			in = fd_file(t, regs->di);
			out = fd_file(t, regs->dx);
		}
		in_ino = pipe_ino(in);
		out_ino = pipe_ino(out);
		if (in_ino && pipe_empty(in)) {
			w->dir = DIR_READ;
			w->inode = in_ino;
			return 1;
		}
		if (out_ino && (in_ino || pipe_full(out))) {
			w->dir = DIR_WRITE;
			w->inode = out_ino;
			return 1;
		}
		return 0;
	case NR_poll:
	case NR_select:
	case NR_epoll_wait:
	case NR_pselect6:
	case NR_ppoll:
	case NR_epoll_pwait:
	case NR_epoll_pwait2:
		w->dir = DIR_POLL;
		w->inode = 0;
		return 1;
	case NR_io_uring_enter:
		// io_uring_enter(fd, to_submit, min_complete, flags, ...) sleeps
		// waiting for completions only with IORING_ENTER_GETEVENTS: like
		// epoll_wait, a wait on whatever I/O it has in flight.
		if (!(regs->r10 & IORING_ENTER_GETEVENTS))
			return 0;
		w->dir = DIR_POLL;
		w->inode = 0;
		return 1;
	}
	return 0;
}

#endif
