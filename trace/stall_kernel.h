// stall_kernel.h: the kernel types and constants stall.bpf.c reads. Only
// the fields used are declared; preserve_access_index makes every access a
// CO-RE relocation against the running kernel's BTF, so no vmlinux.h is
// needed. Included by stall.bpf.c only.

#ifndef STALL_KERNEL_H
#define STALL_KERNEL_H

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

#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_TASK_STORAGE 29
#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_F_NO_PREALLOC 1
#define BPF_F_MMAPABLE (1U << 10)
#define BPF_LOCAL_STORAGE_GET_F_CREATE 1

#define TASK_INTERRUPTIBLE 0x1
#define TASK_UNINTERRUPTIBLE 0x2
#define S_IFMT 0170000
#define S_IFIFO 0010000
#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
#define PF_EXITING 0x00000004 // task_struct.flags: in do_exit
#define PF_IO_WORKER 0x00000010 // task_struct.flags: an io_uring worker (iou-wrk-*, iou-sqp-*)
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
#define NR_io_uring_enter 426
#define NR_preadv2 327
#define NR_pwritev2 328

#define IORING_ENTER_GETEVENTS 1 // io_uring_enter flags: wait for completions

#define COMM_LEN 16

// Kernel types.
struct pt_regs {
	unsigned long di;
	unsigned long si;
	unsigned long dx;
	unsigned long r10; // a syscall's fourth argument
	unsigned long orig_ax;
} __attribute__((preserve_access_index));

struct inode {
	unsigned short i_mode;
	unsigned long i_ino;
} __attribute__((preserve_access_index));

struct pipe_inode_info {
	unsigned int head;
	unsigned int tail;
	unsigned int max_usage;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
	unsigned int f_mode;
	void *private_data;
} __attribute__((preserve_access_index));

// kiocb is here only for its struct file * member: stall_classify.h
// loads an fd table slot through it.
struct kiocb {
	struct file *ki_filp;
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

// The scheduler's view: the run queue's clock, which times the waits,
// and when the task was last queued on one, both in rq_clock's time base
// (sched_info_arrive adds their difference to run_delay).
struct rq {
	u64 clock;
} __attribute__((preserve_access_index));

struct cfs_rq {
	struct rq *rq; // CONFIG_FAIR_GROUP_SCHED
} __attribute__((preserve_access_index));

struct sched_entity {
	struct cfs_rq *cfs_rq;
} __attribute__((preserve_access_index));

struct sched_info {
	unsigned long long run_delay;   // ns spent queued, waiting for a CPU, up to the last arrival or dequeue
	unsigned long long last_queued; // rq_clock when made runnable; 0 once on a CPU or dequeued
	unsigned long long last_arrival; // rq_clock when last put on a CPU (sched_info_arrive)
} __attribute__((preserve_access_index));

struct task_struct {
	struct thread_info thread_info;
	unsigned int flags;
	void *bpf_storage; // struct bpf_local_storage *: NULL if the task has no task storage
	struct sched_entity se;
	struct sched_info sched_info;
	int pid;
	int tgid;
	struct files_struct *files;
	struct signal_struct *signal;
	struct task_struct *group_leader;
	char comm[COMM_LEN];
} __attribute__((preserve_access_index));

// A task iterator's context (iter/task).
struct bpf_iter_meta {
	void *seq;
} __attribute__((preserve_access_index));

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} __attribute__((preserve_access_index));

#endif
