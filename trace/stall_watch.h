// stall_watch.h: which tasks the program watches. A thread is watched
// while it has a waits element (track.go states the invariant): Watch
// gives one to each thread of a process it adds (stall_track), stall_fork
// to each new thread of a watched process (watch_task), and stall_exit
// deletes it. Waits in progress at attach come through seeds
// (adopt_seed). Included by stall.bpf.c only, after the maps and drop().

#ifndef STALL_WATCH_H
#define STALL_WATCH_H

// seeds holds the waits in progress at attach Watch found (attach.go),
// apart from waits so that writing one never replaces a wait the program
// wrote: a seed counts only if it was there at the thread's first switch
// after Watch created its wait (fresh), so the thread had not run since.
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct wait);
} seeds SEC(".maps");

// waits_of returns t's wait if t is watched, else NULL. Most tasks have no
// task storage at all: t->bpf_storage, in the task the scheduler is
// switching anyway, says so without a helper call or a map's page (the
// bitmap of watched tids this replaced cost a page walk per switch here,
// where every kernel entry starts with an empty TLB).
static __always_inline struct wait *waits_of(struct task_struct *t)
{
	if (!t->bpf_storage)
		return 0;
	return bpf_task_storage_get(&waits, t, 0, 0);
}

// adopt_seed runs at the first switch of t after Watch created its wait
// w: a seed written before it is the wait t has been in since before
// attach, which the switch (or exit) then ends like any other.
static __noinline void adopt_seed(struct task_struct *t, struct wait *w)
{
	struct wait *s;

	w->fresh = 0;
	s = bpf_task_storage_get(&seeds, t, 0, 0);
	if (!s || !s->start)
		return;
	w->run_delay = s->run_delay;
	w->inode = s->inode;
	w->tgid = s->tgid;
	w->dir = s->dir;
	w->attach = 1;
	w->start = s->start;
}

// watch_task gives t, a new thread of a watched process, its wait: from
// then on the switch program watches it.
static __always_inline void watch_task(struct task_struct *t)
{
	if (!bpf_task_storage_get(&waits, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE))
		drop(DROP_STORAGE);
}

// track_tgid is the process whose threads stall_track gives their waits;
// Watch sets it before it runs the iterator (under Tracer.mu). Only the
// iterator reads it.
volatile u32 track_tgid = 0;

// stall_track, a task iterator Watch runs once per process it adds, gives
// each live thread of track_tgid a fresh wait (an existing one is kept).
// An iterator reaches every thread on any kernel; a pidfd reaches only
// thread group leaders before Linux 6.9.
SEC("iter/task")
int stall_track(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	struct wait fresh = {.fresh = 1};

	if (!t || t->tgid != track_tgid || (t->flags & PF_EXITING))
		return 0;
	if (!bpf_task_storage_get(&waits, t, &fresh, BPF_LOCAL_STORAGE_GET_F_CREATE))
		drop(DROP_STORAGE);
	return 0;
}

#endif
