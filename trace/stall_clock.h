// stall_clock.h: the clocks of a wait: its start, its end and its runnable
// part. Included by stall.bpf.c only, after struct wait.

#ifndef STALL_CLOCK_H
#define STALL_CLOCK_H

// sched_now is the scheduler's clock on this CPU, read through t, the
// task switching out or in here: its run queue's clock, which __schedule
// brought up to date before the sched_switch tracepoint. Waits are timed
// with it rather than bpf_ktime_get_ns: loads instead of a helper call and
// a clock read per watched switch. It is the clock of sched_info's
// run_delay and last_queued, at the rate of CLOCK_MONOTONIC from another
// origin (the pair below gives user space the offset). Without
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

// want_pair and the pair: Snapshot sets want_pair to PAIR_WANTED and
// attaches stall_pair, which at the next switch on any CPU stores both
// clocks and sets PAIR_DONE, so that user space can turn a wait's start
// (sched_now) into CLOCK_MONOTONIC (snapshot.go). Mirrored there.
#define PAIR_DONE 0
#define PAIR_WANTED 1
#define PAIR_TAKING 2 // a CPU claimed it and is storing the pair
volatile u32 want_pair = PAIR_DONE;
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
static __always_inline u64 runnable_ns(struct task_struct *t, struct wait *w, u64 d, u64 clock)
{
	u64 r = t->sched_info.run_delay - w->run_delay;
	u64 queued = t->sched_info.last_queued;

	if (bpf_core_field_exists(t->se.cfs_rq)) { // else clock is not rq_clock
		if (queued && clock > queued)
			r += clock - queued;
	}
	return r < d ? r : d;
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
static __always_inline u64 wait_end(struct task_struct *t, struct wait *w, u64 now, bool running)
{
	u64 end = w->attach ? bpf_ktime_get_ns() : now;
	u64 arrival = t->sched_info.last_arrival;

	if (!bpf_core_field_exists(t->se.cfs_rq) || !arrival || arrival > now)
		return end; // no rq clock (sched_now is bpf_ktime_get_ns), or no arrival
	arrival = end - (now - arrival); // on w's clock
	if (arrival > w->start)
		return arrival;
	return running && w->attach ? 0 : end;
}

#endif
