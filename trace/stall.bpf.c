//go:build ignore

// stall.bpf.c measures how long watched processes sleep on pipes.
//
// On every context switch (tp_btf/sched_switch), after one look each at
// the tids bitmap for prev and next (a switch of unwatched tasks, nearly
// all of them, stops there):
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
// tp_btf/sched_process_fork marks new threads of watched processes in the
// bitmap and, when following children, watches new child processes;
// tp_btf/sched_process_exit unmarks each exiting thread and removes a tgid
// when its last thread exits, so a reused pid is not watched.
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
#define DROP_STORAGE 2  // no task storage for a wait: not measured
#define DROP_PROC 3     // procs was full: a child's parent, start and name not kept
#define DROP_N 4

#define HIST_BUCKETS 32

// recent caches the stats index of one key a task waited on.
struct recent {
	u64 inode;
	u32 dir;
	u32 idx; // index in stats + 1; 0: empty
};

// wait is the per-task state between switch-out and switch-in.
// The loader also writes one (with attach = 1) for a thread found asleep
// in a pipe wait when its process is watched: start is then the moment
// of attach.
struct wait {
	u64 start;  // sched_now at switch-out (attach: CLOCK_MONOTONIC); 0: no wait pending
	u64 run_delay; // the task's sched_info.run_delay at switch-out
	u64 inode;  // pipe inode, 0 for poll-family waits
	u32 tgid;   // tgid at switch-out, the stats key
	u16 dir;    // DIR_*
	u16 attach; // 1: began before attach, written by the loader
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

// tids marks the watched threads: bit tid & 63 of tids[tid >> 6], for
// every tid up to PID_MAX_LIMIT (2^22: 512 KiB). It is what makes a switch
// of unwatched tasks cheap: one array lookup, which the verifier inlines,
// for each of prev and next. Watch sets the bits of the threads a process
// has (atomic ORs on the mmapped array); stall_fork marks new threads of
// watched processes and stall_exit unmarks every exiting thread.
#define TID_WORDS (1 << 16)
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, TID_WORDS);
	__type(key, u32);
	__type(value, u64);
} tids SEC(".maps");

// follow_children is Options.FollowChildren, set by the loader.
volatile const bool follow_children = 0;

static __always_inline u64 *tid_word(u32 tid)
{
	u32 k = tid >> 6;

	return bpf_map_lookup_elem(&tids, &k);
}

static __always_inline bool tid_watched(u32 tid)
{
	u64 *w = tid_word(tid);

	return w && ((*w >> (tid & 63)) & 1);
}

static __always_inline void tid_mark(u32 tid)
{
	u64 *w = tid_word(tid);

	if (w)
		__sync_fetch_and_or(w, 1ULL << (tid & 63));
}

static __always_inline void tid_unmark(u32 tid)
{
	u64 *w = tid_word(tid);

	if (w && ((*w >> (tid & 63)) & 1))
		__sync_fetch_and_and(w, ~(1ULL << (tid & 63)));
}

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

#include "stall_classify.h"

// sched_now is the scheduler's clock on this CPU, read through t, the
// task switching out or in here: its run queue's clock, which __schedule
// brought up to date before the sched_switch tracepoint. Waits are timed
// with it rather than bpf_ktime_get_ns: loads instead of a helper call and
// a clock read per watched switch. It is the clock of sched_info's
// run_delay and last_queued, at the rate of CLOCK_MONOTONIC from another
// origin (want_pair below gives user space the offset). Without
// CONFIG_FAIR_GROUP_SCHED (no se.cfs_rq) it is bpf_ktime_get_ns. 0 (no
// run queue) makes the wait unrecorded.
static __always_inline u64 sched_now(struct task_struct *t)
{
	struct cfs_rq *cq;

	if (!bpf_core_field_exists(t->se.cfs_rq))
		return bpf_ktime_get_ns();
	cq = t->se.cfs_rq;
	return cq ? cq->rq->clock : 0;
}

// want_pair and the pair: the loader sets want_pair, and the next switch
// on any CPU stores both clocks and clears it, so that user space can
// turn a wait's start (sched_now) into CLOCK_MONOTONIC (snapshot.go).
volatile u32 want_pair = 0;
volatile u64 pair_mono = 0;
volatile u64 pair_sched = 0;

// runnable_ns returns the part of a wait of d ns, ending now as t is
// switched in, that t spent runnable: woken and queued, waiting for a CPU.
// It is the scheduler's own figure: the growth of t's run_delay since the
// switch-out (queued periods that ended in a dequeue, e.g. a throttled
// group, are in it) plus the current one, the run queue's clock minus
// sched_info.last_queued (stamped when the wakeup queued t; rq->clock was
// brought up to date by __schedule before this tracepoint, and
// sched_info_arrive adds the same difference to run_delay just after it).
static __always_inline u64 runnable_ns(struct task_struct *t, struct wait *w, u64 d)
{
	u64 r = t->sched_info.run_delay - w->run_delay;
	u64 queued = t->sched_info.last_queued;
	u64 clock;

	if (bpf_core_field_exists(t->se.cfs_rq)) { // else clock is not rq_clock
		clock = sched_now(t);
		if (queued && clock > queued)
			r += clock - queued;
	}
	return r < d ? r : d;
}

// new_record gives key k a stats element and publishes it in keys;
// it returns the element's index + 1, or 0 when the wait is not to be
// recorded.
static __noinline u32 new_record(struct task_struct *t, struct stall_key *k)
{
	struct stall_val *v;
	u32 *found;
	u32 i;

	found = bpf_map_lookup_elem(&keys, k);
	if (found)
		return *found + 1;
	// A new record: the tgid map decides, once per record rather than per
	// wait, so that a bit left by a thread that exited while Watch marked
	// it never makes its reused tid watched (tids.go). Such a tid is
	// unmarked here.
	if (!bpf_map_lookup_elem(&watched, &k->tgid)) {
		tid_unmark(t->pid);
		return 0;
	}
	if (nrec < stats_size) {
		i = __sync_fetch_and_add(&nrec, 1);
		v = bpf_map_lookup_elem(&stats, &i);
		if (v) {
			BPF_CORE_READ_STR_INTO(&v->comm, t, group_leader, comm);
			if (!bpf_map_update_elem(&keys, k, &i, BPF_NOEXIST))
				return i + 1;
		}
	}
	// keys is full, stats has no element left, or another CPU published
	// k first (i stays unpublished and unread): k's record, if any.
	found = bpf_map_lookup_elem(&keys, k);
	if (found)
		return *found + 1;
	drop(DROP_WAIT); // MaxRecords records exist
	return 0;
}

// record_index returns the stats index + 1 of w's key, from w's cache of
// recent keys or else new_record; 0 when the wait is not recorded.
static __always_inline u32 record_index(struct task_struct *t, struct wait *w)
{
	struct stall_key k = {.tgid = w->tgid, .dir = w->dir, .inode = w->inode};
	struct recent *r;
	u32 idx;

	if (w->recent[0].idx && w->recent[0].inode == w->inode && w->recent[0].dir == w->dir)
		return w->recent[0].idx;
	if (w->recent[1].idx && w->recent[1].inode == w->inode && w->recent[1].dir == w->dir)
		return w->recent[1].idx;
	idx = new_record(t, &k);
	if (idx) {
		r = &w->recent[w->evict & 1];
		r->inode = w->inode;
		r->dir = w->dir;
		r->idx = idx;
		w->evict ^= 1;
	}
	return idx;
}

static __always_inline void record(struct task_struct *t, struct wait *w, u64 now)
{
	struct stall_val *v;
	// Two CPUs' clocks may differ by a little: never a negative wait.
	u64 d = now > w->start ? now - w->start : 0;
	u64 runnable = runnable_ns(t, w, d);
	u32 b, idx;

	w->start = 0;
	idx = record_index(t, w);
	if (!idx)
		return;
	idx--;
	v = bpf_map_lookup_elem(&stats, &idx);
	if (!v)
		return;
	__sync_fetch_and_add(&v->count, 1);
	if (w->attach)
		__sync_fetch_and_add(&v->at_attach, 1);
	__sync_fetch_and_add(&v->total_ns, d);
	if (runnable)
		__sync_fetch_and_add(&v->runnable_ns, runnable);
	if (d > v->max_ns)
		v->max_ns = d;
	b = log2_u64(d);
	if (b >= HIST_BUCKETS)
		b = HIST_BUCKETS - 1;
	__sync_fetch_and_add(&v->hist[b], 1);
}

// wait_end returns when t's wait w ended, on w's clock (CLOCK_MONOTONIC
// for a wait in progress at attach, else sched_now), at a switch of t or
// its exit (running: t is the task switching out or exiting). A switch-in
// ends a wait, unless t arrived on a CPU after the wait began: that
// switch-in was not seen (a switch from a task the kernel does not trace,
// e.g. a sandbox's own threads, reaches no probe), and the wait ended at
// that arrival, the run queue clock sched_info_arrive stamps in
// last_arrival (just after this tracepoint: at a switch-in it is the
// previous arrival). The arrival before a wait was on the CPU of the
// wait's switch-out, on the same clock, so it is never after the start.
// 0: w is a seed the loader wrote while t ran (attach.go takes it back;
// this came first): no wait.
static __always_inline u64 wait_end(struct task_struct *t, struct wait *w, bool running)
{
	u64 now = sched_now(t);
	u64 end = w->attach ? bpf_ktime_get_ns() : now;
	u64 arrival = t->sched_info.last_arrival;

	if (!bpf_core_field_exists(t->se.cfs_rq) || !arrival || arrival > now)
		return end; // no rq clock (sched_now is bpf_ktime_get_ns), or no arrival
	arrival = end - (now - arrival); // on w's clock
	if (arrival > w->start)
		return arrival;
	return running && w->attach ? 0 : end;
}

// end_missed records t's wait w if it is still pending although t is on a
// CPU (at its switch-out or exit): its switch-in was not seen. It would
// else be lost: overwritten by the next wait, cleared by a switch-out into
// another sleep, or freed with the task.
static __always_inline void end_missed(struct task_struct *t, struct wait *w)
{
	u64 end;

	if (!w->start)
		return;
	end = wait_end(t, w, 1);
	if (end)
		record(t, w, end);
	else
		w->start = 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(stall_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	struct wait *w;
	bool sleeping;
	u32 tgid;

	if (want_pair) {
		pair_sched = sched_now(prev);
		pair_mono = bpf_ktime_get_ns();
		if (pair_sched) // else the next switch answers
			want_pair = 0;
	}
	// Switch-in first: next may be a watched task ending a wait.
	if (tid_watched(next->pid)) {
		w = bpf_task_storage_get(&waits, next, 0, 0);
		if (w && w->start)
			record(next, w, wait_end(next, w, 0));
	}

	// Switch-out of a watched thread: a wait still pending ended at a
	// switch-in that was not seen (end_missed). A new wait begins only in
	// a voluntary, interruptible sleep.
	if (!tid_watched(prev->pid))
		return 0;
	sleeping = !preempt && (prev_state & (TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE)) == TASK_INTERRUPTIBLE;
	w = bpf_task_storage_get(&waits, prev, 0, sleeping ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	if (!w) {
		if (sleeping)
			drop(DROP_STORAGE);
		return 0;
	}
	end_missed(prev, w);
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
	w->start = sched_now(prev);
	return 0;
}

// stall_fork: a new thread of a watched process is marked; with
// follow_children a new child process is watched, and its first thread
// marked. The tgid map, not the bitmap, decides: Watch adds the tgid
// before it lists and marks the threads, so a thread cloned meanwhile is
// marked by one or the other.
SEC("tp_btf/sched_process_fork")
int BPF_PROG(stall_fork, struct task_struct *parent, struct task_struct *child)
{
	u32 ptgid = BPF_CORE_READ(parent, tgid);
	u32 ctgid = BPF_CORE_READ(child, tgid);
	u8 one = 1;

	if (!bpf_map_lookup_elem(&watched, &ptgid))
		return 0;
	if (ptgid == ctgid) {
		tid_mark(BPF_CORE_READ(child, pid));
		return 0;
	}
	if (!follow_children)
		return 0;
	if (bpf_map_update_elem(&watched, &ctgid, &one, BPF_ANY)) {
		drop(DROP_CHILD); // watched is full
		return 0;
	}
	tid_mark(BPF_CORE_READ(child, pid));
	struct proc_info pi = {.start_ns = bpf_ktime_get_ns(), .parent = ptgid};
	BPF_CORE_READ_STR_INTO(&pi.comm, child, comm);
	if (bpf_map_update_elem(&procs, &ctgid, &pi, BPF_ANY))
		drop(DROP_PROC);
	return 0;
}

// stall_exec: a thread that is not the leader takes the leader's pid when
// it execs (de_thread); the leader's exit unmarked that pid, so it is
// marked again, and old_pid, gone, unmarked.
SEC("tp_btf/sched_process_exec")
int BPF_PROG(stall_exec, struct task_struct *p, int old_pid, void *bprm)
{
	u32 tgid = BPF_CORE_READ(p, tgid);
	u32 pid = BPF_CORE_READ(p, pid);
	struct proc_info *pi;

	if (!bpf_map_lookup_elem(&watched, &tgid))
		return 0;
	if ((u32)old_pid != pid) {
		tid_unmark(old_pid);
		tid_mark(pid);
	}
	pi = bpf_map_lookup_elem(&procs, &tgid);
	if (pi)
		BPF_CORE_READ_STR_INTO(&pi->comm, p, comm);
	return 0;
}

// stall_exit: every exiting thread is unmarked, so its tid, when reused,
// is not watched; the last thread of a watched process removes its tgid.
SEC("tp_btf/sched_process_exit")
int BPF_PROG(stall_exit, struct task_struct *p)
{
	u32 tgid = p->tgid;
	struct proc_info *pi;
	struct wait *w;

	// A wait whose switch-in was missed ends here at the latest, while
	// the tgid is still watched (new_record checks it).
	if (tid_watched(p->pid)) {
		w = bpf_task_storage_get(&waits, p, 0, 0);
		if (w)
			end_missed(p, w);
	}
	tid_unmark(p->pid);
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
