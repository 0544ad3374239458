//go:build ignore

// stall.bpf.c measures how long watched processes sleep on pipes.
//
// A thread is watched while it has a waits element (task storage): Watch
// gives one to each thread of a process it adds (stall_track), stall_fork
// to each new thread of a watched process, and stall_exit deletes it. On
// every context switch (tp_btf/sched_switch), after one look each at
// prev->bpf_storage and next->bpf_storage (a switch of tasks without any
// task storage, nearly all of them, stops there):
//   - switch-in: if next has a remembered wait, the time it was off CPU is
//     added to the record of (tgid, direction, pipe inode): stats[i], where
//     the keys hash gives i once per task and key (the task keeps the last
//     two in its wait, so a task alternating between reading one pipe and
//     writing another finds both). The part of it spent
//     runnable (woken, waiting for a CPU) is the scheduler's own figure:
//     the run queue's clock now minus next->sched_info.last_queued, what
//     sched_info_arrive adds to run_delay just after this tracepoint.
//   - switch-out: if prev was not preempted and is going to sleep
//     interruptibly, its syscall number and arguments are read from
//     bpf_task_pt_regs. A wait on a pipe or FIFO (read side, write side)
//     or in a poll-family syscall is remembered in task storage with its
//     start time.
//   - a wait still pending at a switch-out of its task or at its exit, or
//     at a switch-in after the task had already arrived on a CPU, had its
//     switch-in missed (not every switch reaches the tracepoint's probes);
//     it is recorded as ending at that arrival (wait_end), never lost.
// Waits are timed with the scheduler's clock (rq->clock, sched_now), no
// helper call; only watched tasks read it.
// tp_btf/sched_process_fork gives new threads of watched processes their
// storage and, when following children, watches new child processes;
// tp_btf/sched_process_exit deletes each exiting thread's storage and
// removes a tgid when its last thread exits, so a reused pid is not
// watched (storage belongs to the task, not to its tid).
//
// No kprobes, fentry or tracefs are needed: only BTF-typed tracepoints.
// The syscall numbers and pt_regs fields are those of x86_64.

#include "stall_kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char __license[] SEC("license") = "Dual MIT/GPL";

// Directions, mirrored by trace.Direction.
#define DIR_READ 1
#define DIR_WRITE 2
#define DIR_POLL 3

// Indexes of the dropped counters, mirrored in tracer.go.
#define DROP_WAIT 0     // a wait ended but stats was full: not recorded
#define DROP_CHILD 1    // a watched process forked but watched was full: child not watched
#define DROP_STORAGE 2  // no task storage for a thread: its waits not measured
#define DROP_PROC 3     // procs was full: a child's parent, start and name not kept
#define DROP_N 4

#define HIST_BUCKETS 32

// recent caches the stats index of one key a task waited on.
struct recent {
	u64 inode;
	u32 dir;
	u32 idx; // index in stats + 1; 0: empty
};

// wait is the per-task state between switch-out and switch-in; having
// one is what makes a task watched. Watch creates it with fresh = 1; a
// seed (in seeds, attach = 1, start = the moment of attach) for a thread
// found asleep in a pipe wait is taken at the thread's first switch
// (adopt_seed).
struct wait {
	u64 start;  // sched_now at switch-out (attach: CLOCK_MONOTONIC); 0: no wait pending
	u64 run_delay; // the task's sched_info.run_delay at switch-out
	u64 inode;  // pipe inode, 0 for poll-family waits
	u32 tgid;   // tgid at switch-out, the stats key
	u16 dir;    // DIR_*
	u8 attach;  // 1: began before attach (a seed)
	u8 fresh;   // 1: created by Watch, no switch of the task seen since (adopt_seed)
	struct recent recent[2]; // the last two keys' stats indexes; a task's tgid never changes
	u32 evict;  // which of recent to replace next
	u32 pad;
};

// stall_key identifies one stats record.
struct stall_key {
	u32 tgid;
	u32 dir;
	u64 inode;
};

// stall_val accumulates the waits of one key: stats[keys[key]]. Counters are updated with
// atomic adds; max_ns and comm with plain stores (a concurrent
// update from another thread of the same process may lose a max).
struct stall_val {
	u64 count;
	u64 total_ns;
	u64 max_ns;
	u64 at_attach; // waits of count already in progress at attach
	u64 runnable_ns; // of total_ns, runnable: from the wakeup's enqueue to the switch-in
	char comm[COMM_LEN]; // group leader's comm at the first wait of the record
	u64 hist[HIST_BUCKETS]; // hist[i]: waits of [2^i, 2^(i+1)) ns; last is open
};

// follow_children is Options.FollowChildren, set by the loader.
volatile const bool follow_children = 0;

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

// stats holds the records, keys says which is whose. A new key takes
// the next free element (nrec) and is then published in keys; records
// are never removed, so an index a task cached stays valid. The array
// makes the per-wait lookup a load, not a hash of the key. keys, sized
// Options.MaxRecords, is what limits the records: stats has slack for
// elements taken by the loser of a race to publish the same key, which
// are never published (the loader sizes it).
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, struct stall_val);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct stall_key);
	__type(value, u32); // index in stats
} keys SEC(".maps");

// stats_size is the size of stats, set by the loader; nrec counts the
// elements of stats handed out.
volatile const u32 stats_size = 16384;
u32 nrec = 0;

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

#include "stall_watch.h"
#include "stall_classify.h"
#include "stall_clock.h"
#include "stall_record.h"

SEC("tp_btf/sched_switch")
int BPF_PROG(stall_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	struct wait *w;
	bool sleeping;
	u64 now = 0; // sched_now, read once: prev and next share this CPU's run queue
	u32 tgid;

	// Switch-in first: next may be a watched task ending a wait.
	w = waits_of(next);
	if (w) {
		if (w->fresh)
			adopt_seed(next, w);
		if (w->start) {
			now = sched_now(prev);
			record(next, w, wait_end(next, w, now, 0), now);
		}
	}

	// Switch-out of a watched thread: a wait still pending ended at a
	// switch-in that was not seen (end_missed). A new wait begins only in
	// a voluntary, interruptible sleep.
	w = waits_of(prev);
	if (!w)
		return 0;
	if (w->fresh)
		adopt_seed(prev, w);
	if (w->start) {
		if (!now)
			now = sched_now(prev);
		end_missed(prev, w, now);
	}
	sleeping = !preempt && (prev_state & (TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE)) == TASK_INTERRUPTIBLE;
	if (!sleeping)
		return 0;
	tgid = prev->tgid;
	if (!classify(prev, w)) {
		w->start = 0;
		w->attach = 0;
		return 0;
	}
	w->tgid = tgid;
	w->attach = 0;
	w->run_delay = prev->sched_info.run_delay;
	w->start = now ? now : sched_now(prev);
	return 0;
}

// stall_pair takes the clock pair (stall_clock.h) at the next switch on
// any CPU. Snapshot attaches it only while it waits for the pair, so that
// stall_switch reads no global variable: .bss is a page of its own, a
// page walk on every switch of the machine.
SEC("tp_btf/sched_switch")
int BPF_PROG(stall_pair, bool preempt, struct task_struct *prev)
{
	u64 s;

	// One CPU claims the request: both clocks come from the same switch.
	if (want_pair != PAIR_WANTED ||
	    __sync_val_compare_and_swap(&want_pair, PAIR_WANTED, PAIR_TAKING) != PAIR_WANTED)
		return 0;
	s = sched_now(prev);
	if (!s) {
		want_pair = PAIR_WANTED; // no run queue: the next switch answers
		return 0;
	}
	pair_sched = s;
	pair_mono = bpf_ktime_get_ns();
	want_pair = PAIR_DONE;
	return 0;
}

// stall_fork: a new thread of a watched process is watched; with
// follow_children a new child process is watched, and its first thread.
// The tgid map decides: Watch adds the tgid before stall_track gives the
// threads their storage, so a thread cloned meanwhile gets it from one or
// the other (or both: creating it twice is harmless). The child has not
// run yet: no wait of its is missed.
SEC("tp_btf/sched_process_fork")
int BPF_PROG(stall_fork, struct task_struct *parent, struct task_struct *child)
{
	u32 ptgid = parent->tgid;
	u32 ctgid = child->tgid;
	u8 one = 1;

	if (!bpf_map_lookup_elem(&watched, &ptgid))
		return 0;
	if (ptgid == ctgid) {
		watch_task(child);
		return 0;
	}
	if (!follow_children)
		return 0;
	if (bpf_map_update_elem(&watched, &ctgid, &one, BPF_ANY)) {
		drop(DROP_CHILD); // watched is full
		return 0;
	}
	watch_task(child);
	struct proc_info pi = {.start_ns = bpf_ktime_get_ns(), .parent = ptgid};
	BPF_CORE_READ_STR_INTO(&pi.comm, child, comm);
	if (bpf_map_update_elem(&procs, &ctgid, &pi, BPF_ANY))
		drop(DROP_PROC);
	return 0;
}

// stall_exec keeps the process's name after an exec. A thread that is not
// the leader and execs takes the leader's pid (de_thread) but stays the
// same task: its storage, and so its being watched, follows it.
SEC("tp_btf/sched_process_exec")
int BPF_PROG(stall_exec, struct task_struct *p, int old_pid, void *bprm)
{
	u32 tgid = p->tgid;
	struct proc_info *pi;

	if (!bpf_map_lookup_elem(&watched, &tgid))
		return 0;
	pi = bpf_map_lookup_elem(&procs, &tgid);
	if (pi)
		BPF_CORE_READ_STR_INTO(&pi->comm, p, comm);
	return 0;
}

// stall_exit: every exiting thread's wait is deleted, so it is not watched
// as a zombie; the last thread of a watched process removes its tgid.
SEC("tp_btf/sched_process_exit")
int BPF_PROG(stall_exit, struct task_struct *p)
{
	u32 tgid = p->tgid;
	struct proc_info *pi;
	struct wait *w;

	// A wait whose switch-in was missed ends here at the latest, while
	// the tgid is still watched (new_record checks it).
	w = waits_of(p);
	if (w) {
		if (w->fresh)
			adopt_seed(p, w);
		if (w->start)
			end_missed(p, w, sched_now(p));
		bpf_task_storage_delete(&waits, p);
	}
	// signal->live drops to 0 before this tracepoint when the last
	// thread of the group exits.
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	if (bpf_map_delete_elem(&watched, &tgid))
		return 0; // not watched
	pi = bpf_map_lookup_elem(&procs, &tgid);
	if (pi)
		pi->exit_ns = bpf_ktime_get_ns();
	return 0;
}
