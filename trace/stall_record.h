// stall_record.h: an ended wait is added to its record in stats.
// Included by stall.bpf.c only, after the maps and stall_clock.h.

#ifndef STALL_RECORD_H
#define STALL_RECORD_H

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
	// wait. A watched task's process is in it while the task lives (its
	// storage goes at its exit, the tgid with the last thread); this
	// only guards against a task given storage as its process exited.
	if (!bpf_map_lookup_elem(&watched, &k->tgid))
		return 0;
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

static __always_inline void record(struct task_struct *t, struct wait *w, u64 now, u64 clock)
{
	struct stall_val *v;
	// Two CPUs' clocks may differ by a little: never a negative wait.
	u64 d = now > w->start ? now - w->start : 0;
	u64 runnable = runnable_ns(t, w, d, clock);
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

// end_missed records t's wait w if it is still pending although t is on a
// CPU (at its switch-out or exit): its switch-in was not seen. It would
// else be lost: overwritten by the next wait, cleared by a switch-out into
// another sleep, or freed with the task.
static __always_inline void end_missed(struct task_struct *t, struct wait *w, u64 now)
{
	u64 end;

	if (!w->start)
		return;
	end = wait_end(t, w, now, 1);
	if (end)
		record(t, w, end, now);
	else
		w->start = 0;
}

#endif
