//go:build ignore

// stall.bpf.c measures how long watched processes sleep on pipes.
//
// On every context switch (tp_btf/sched_switch):
//   - switch-out: if prev belongs to a watched tgid, was not preempted and is
//     going to sleep interruptibly, its syscall number and arguments are read
//     from bpf_task_pt_regs. A wait on a pipe or FIFO (read side, write side)
//     or in a poll-family syscall is remembered in task storage with its
//     start time.
//   - switch-in: if next has a remembered wait, the time it was off CPU is
//     added to stats[tgid, direction, pipe inode].
// tp_btf/sched_wakeup marks when a waiting task became runnable, so each
// wait splits into blocked (start to wakeup) and runnable (wakeup to
// switch-in: waiting for a CPU).
// tp_btf/sched_process_fork adds children of watched processes to the watch
// map (attached only when following children); tp_btf/sched_process_exit
// removes a tgid when its last thread exits, so a reused pid is not watched.
//
// No kprobes, fentry or tracefs are needed: only BTF-typed tracepoints.
// The syscall numbers and pt_regs fields are those of x86_64.

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef _Bool bool;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char __license[] SEC("license") = "Dual MIT/GPL";

#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_TASK_STORAGE 29
#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_F_NO_PREALLOC 1
#define BPF_LOCAL_STORAGE_GET_F_CREATE 1

#define TASK_INTERRUPTIBLE 0x1
#define TASK_UNINTERRUPTIBLE 0x2
#define S_IFMT 0170000
#define S_IFIFO 0010000
#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
#define TS_COMPAT 0x0002 // thread_info.status: 32-bit syscall active

// x86_64 syscall numbers.
#define NR_read 0
#define NR_write 1
#define NR_poll 7
#define NR_readv 19
#define NR_writev 20
#define NR_select 23
#define NR_sendfile 40
#define NR_epoll_wait 232
#define NR_pselect6 270
#define NR_ppoll 271
#define NR_splice 275
#define NR_tee 276
#define NR_vmsplice 278
#define NR_epoll_pwait 281
#define NR_epoll_pwait2 441

// Directions, mirrored by trace.Direction.
#define DIR_READ 1
#define DIR_WRITE 2
#define DIR_POLL 3

// Indexes of the dropped counters, mirrored in tracer.go.
#define DROP_WAIT 0     // a wait ended but stats was full: not recorded
#define DROP_CHILD 1    // a watched process forked but watched was full: child not watched
#define DROP_STORAGE 2  // no task storage for a wait: not measured
#define DROP_PROC 3     // procs was full: a child's parent, start and name not kept
#define DROP_N 4

#define HIST_BUCKETS 32
#define COMM_LEN 16

// Kernel types: only the fields used here. preserve_access_index makes
// every access a CO-RE relocation against the running kernel's BTF.
struct pt_regs {
	unsigned long di;
	unsigned long si;
	unsigned long dx;
	unsigned long orig_ax;
} __attribute__((preserve_access_index));

struct inode {
	unsigned short i_mode;
	unsigned long i_ino;
} __attribute__((preserve_access_index));

struct pipe_inode_info {
	unsigned int head;
	unsigned int tail;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
	unsigned int f_mode;
	void *private_data;
} __attribute__((preserve_access_index));

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

typedef struct {
	int counter;
} atomic_t;

struct signal_struct {
	atomic_t live;
} __attribute__((preserve_access_index));

struct thread_info {
	u32 status;
} __attribute__((preserve_access_index));

struct task_struct {
	struct thread_info thread_info;
	int pid;
	int tgid;
	struct files_struct *files;
	struct signal_struct *signal;
	struct task_struct *group_leader;
	char comm[COMM_LEN];
} __attribute__((preserve_access_index));

// wait is the per-task state between switch-out and switch-in.
// The loader also writes one (with attach = 1) for a thread found asleep
// in a pipe wait when its process is watched: start is then the moment
// of attach.
struct wait {
	u64 start;  // bpf_ktime_get_ns at switch-out; 0: no wait pending
	u64 woken;  // bpf_ktime_get_ns at the first sched_wakeup since start; 0: none seen
	u64 inode;  // pipe inode, 0 for poll-family waits
	u32 tgid;   // tgid at switch-out, the stats key
	u16 dir;    // DIR_*
	u16 attach; // 1: began before attach, written by the loader
};

// stall_key identifies one stats record.
struct stall_key {
	u32 tgid;
	u32 dir;
	u64 inode;
};

// stall_val accumulates the waits of one key. Counters are updated with
// atomic adds; max_ns and comm with plain stores (a concurrent
// update from another thread of the same process may lose a max).
struct stall_val {
	u64 count;
	u64 total_ns;
	u64 max_ns;
	u64 at_attach; // waits of count already in progress at attach
	u64 runnable_ns; // of total_ns, time from sched_wakeup to the switch-in
	char comm[COMM_LEN]; // group leader's comm at the latest wait
	u64 hist[HIST_BUCKETS]; // hist[i]: waits of [2^i, 2^(i+1)) ns; last is open
};

// watched and stats are resized by the loader (Options.MaxProcesses,
// Options.MaxRecords) before loading.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u32);  // tgid
	__type(value, u8); // unused
} watched SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct wait);
} waits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct stall_key);
	__type(value, struct stall_val);
} stats SEC(".maps");

// proc_info is what is known of a watched process's life.
struct proc_info {
	u64 start_ns; // bpf_ktime_get_ns at fork; for a process given to Watch, at attach
	u64 exit_ns;  // when its last thread exited; 0 while it lives
	u32 parent;   // tgid that forked it; 0 for a process given to Watch
	u32 pad;
	char comm[COMM_LEN]; // at fork, then after each exec
};

// procs outlives the processes (the report needs their parent and name
// after they exit); the loader sizes it and writes the entries of the
// processes given to Watch.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u32); // tgid
	__type(value, struct proc_info);
} procs SEC(".maps");

// dropped[DROP_*] counts what could not be recorded; every path that
// loses a wait or a child adds 1 here.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DROP_N);
	__type(key, u32);
	__type(value, u64);
} dropped SEC(".maps");

static __always_inline void drop(u32 what)
{
	u64 *n = bpf_map_lookup_elem(&dropped, &what);

	if (n)
		__sync_fetch_and_add(n, 1);
}

// zero_val initialises new stats entries (too big for the stack budget).
struct stall_val zero_val = {};

static __always_inline u32 log2_u64(u64 v)
{
	u32 r = 0;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

// fd_file returns task t's file for fd, or NULL.
static __always_inline struct file *fd_file(struct task_struct *t, long fd)
{
	struct fdtable *fdt;
	struct file **arr;
	struct file *f = 0;

	if (fd < 0)
		return 0;
	fdt = t->files->fdt;
	if (!fdt || (unsigned long)fd >= fdt->max_fds)
		return 0;
	arr = fdt->fd;
	if (!arr)
		return 0;
	// arr is not a BTF pointer the verifier can index: read the slot.
	bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
	return f;
}

// pipe_ino returns the inode number of f if it is a pipe or FIFO, else 0.
static __always_inline u64 pipe_ino(struct file *f)
{
	struct inode *ino;

	if (!f)
		return 0;
	// f came from bpf_probe_read_kernel: a plain scalar to the verifier,
	// so its fields are read with helpers too.
	ino = BPF_CORE_READ(f, f_inode);
	if (!ino)
		return 0;
	if ((BPF_CORE_READ(ino, i_mode) & S_IFMT) != S_IFIFO)
		return 0;
	return BPF_CORE_READ(ino, i_ino);
}

static __always_inline bool pipe_empty(struct file *f)
{
	struct pipe_inode_info *p = BPF_CORE_READ(f, private_data);

	if (!p)
		return 1;
	return BPF_CORE_READ(p, head) == BPF_CORE_READ(p, tail);
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
	// A 32-bit task uses other syscall numbers: not handled.
	if (bpf_core_field_exists(t->thread_info.status) && (t->thread_info.status & TS_COMPAT))
		return 0;
	nr = regs->orig_ax;
	switch (nr) {
	case NR_read:
	case NR_readv:
		w->dir = DIR_READ;
		w->inode = pipe_ino(fd_file(t, regs->di));
		return w->inode != 0;
	case NR_write:
	case NR_writev:
		w->dir = DIR_WRITE;
		w->inode = pipe_ino(fd_file(t, regs->di));
		return w->inode != 0;
	case NR_vmsplice:
		// vmsplice on a read end copies out of the pipe.
		in = fd_file(t, regs->di);
		w->inode = pipe_ino(in);
		if (!w->inode)
			return 0;
		w->dir = (BPF_CORE_READ(in, f_mode) & (FMODE_READ | FMODE_WRITE)) == FMODE_READ ? DIR_READ : DIR_WRITE;
		return 1;
	case NR_splice:
	case NR_tee:
	case NR_sendfile:
		// splice(fd_in, off_in, fd_out, ...), tee(fd_in, fd_out, ...),
		// sendfile(out_fd, in_fd, ...). With pipes on both sides the
		// task waits on the input if it is empty, else on the output.
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
		if (in_ino && (!out_ino || pipe_empty(in))) {
			w->dir = DIR_READ;
			w->inode = in_ino;
			return 1;
		}
		if (out_ino) {
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
	}
	return 0;
}

static __always_inline void record(struct task_struct *t, struct wait *w, u64 now)
{
	struct stall_key k = {.tgid = w->tgid, .dir = w->dir, .inode = w->inode};
	struct stall_val *v;
	u64 d = now - w->start;
	u64 runnable = w->woken && w->woken <= now ? now - w->woken : 0;
	u32 b;

	w->start = 0;
	w->woken = 0;
	v = bpf_map_lookup_elem(&stats, &k);
	if (!v) {
		bpf_map_update_elem(&stats, &k, &zero_val, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&stats, &k);
		if (!v) {
			drop(DROP_WAIT); // stats is full
			return;
		}
	}
	__sync_fetch_and_add(&v->count, 1);
	if (w->attach)
		__sync_fetch_and_add(&v->at_attach, 1);
	__sync_fetch_and_add(&v->total_ns, d);
	__sync_fetch_and_add(&v->runnable_ns, runnable);
	if (d > v->max_ns)
		v->max_ns = d;
	b = log2_u64(d);
	if (b >= HIST_BUCKETS)
		b = HIST_BUCKETS - 1;
	__sync_fetch_and_add(&v->hist[b], 1);
	BPF_CORE_READ_STR_INTO(&v->comm, t, group_leader, comm);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(stall_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	struct wait *w;
	u32 tgid;

	// The clock is read only on the paths that use it: most switches
	// are of tasks that are not watched and take neither.

	// Switch-in first: next may be a watched task ending a wait.
	w = bpf_task_storage_get(&waits, next, 0, 0);
	if (w && w->start)
		record(next, w, bpf_ktime_get_ns());

	// Switch-out: only voluntary, interruptible sleeps.
	if (preempt || (prev_state & (TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE)) != TASK_INTERRUPTIBLE)
		return 0;
	tgid = prev->tgid;
	if (!bpf_map_lookup_elem(&watched, &tgid))
		return 0;
	w = bpf_task_storage_get(&waits, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!w) {
		drop(DROP_STORAGE);
		return 0;
	}
	if (!classify(prev, w)) {
		w->start = 0;
		w->attach = 0;
		return 0;
	}
	w->tgid = tgid;
	w->attach = 0;
	w->woken = 0;
	w->start = bpf_ktime_get_ns();
	return 0;
}

// sched_wakeup: a task with a wait pending became runnable; from now to
// its switch-in it waits for a CPU, not for the pipe. Only a task
// storage lookup (no map lookup, no allocation) for the others.
SEC("tp_btf/sched_wakeup")
int BPF_PROG(stall_wakeup, struct task_struct *p)
{
	struct wait *w = bpf_task_storage_get(&waits, p, 0, 0);

	if (w && w->start && !w->woken)
		w->woken = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(stall_fork, struct task_struct *parent, struct task_struct *child)
{
	u32 ptgid = BPF_CORE_READ(parent, tgid);
	u32 ctgid = BPF_CORE_READ(child, tgid);
	u8 one = 1;

	if (ptgid == ctgid || !bpf_map_lookup_elem(&watched, &ptgid))
		return 0;
	if (bpf_map_update_elem(&watched, &ctgid, &one, BPF_ANY)) {
		drop(DROP_CHILD); // watched is full
		return 0;
	}
	struct proc_info pi = {.start_ns = bpf_ktime_get_ns(), .parent = ptgid};
	BPF_CORE_READ_STR_INTO(&pi.comm, child, comm);
	if (bpf_map_update_elem(&procs, &ctgid, &pi, BPF_ANY))
		drop(DROP_PROC);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(stall_exec, struct task_struct *p, int old_pid, void *bprm)
{
	u32 tgid = BPF_CORE_READ(p, tgid);
	struct proc_info *pi;

	if (!bpf_map_lookup_elem(&watched, &tgid))
		return 0;
	pi = bpf_map_lookup_elem(&procs, &tgid);
	if (pi)
		BPF_CORE_READ_STR_INTO(&pi->comm, p, comm);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(stall_exit, struct task_struct *p)
{
	u32 tgid = BPF_CORE_READ(p, tgid);

	// signal->live drops to 0 before this tracepoint when the last
	// thread of the group exits.
	struct proc_info *pi;

	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	if (bpf_map_delete_elem(&watched, &tgid))
		return 0; // not watched
	pi = bpf_map_lookup_elem(&procs, &tgid);
	if (pi)
		pi->exit_ns = bpf_ktime_get_ns();
	return 0;
}
