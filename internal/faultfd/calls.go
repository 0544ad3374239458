//go:build linux

package faultfd

import "golang.org/x/sys/unix"

// plan decides what happens to one call of op asking for asked bytes.
// limit is the most bytes the real call may move (asked when unlimited);
// a non-zero errno means the call fails without reaching the kernel.
func (in *Injector) plan(op Op, fd, out, asked int) (ev Event, limit int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.calls++
	ev = Event{Call: in.calls, Op: op, FD: fd, Out: out, Asked: asked}
	limit = asked
	for i, f := range in.cfg.Failures {
		if f.Ops&op == 0 || (f.FD >= 0 && f.FD != fd && (op != Splice || f.FD != out)) {
			continue
		}
		left := f.After - in.passed[i]
		if left <= 0 {
			ev.Kind, ev.Err = Fail, f.Err
			in.fatal = append(in.fatal, ev)
			in.record(ev)
			return ev, 0
		}
		if int64(limit) > left {
			limit = int(left) // end exactly where the failure starts
		}
	}
	if in.cfg.Rand != nil && in.cfg.Only&op != 0 {
		r := in.cfg.Rand.Float64()
		switch {
		case r < in.cfg.Intr:
			ev.Kind, ev.Err = Intr, unix.EINTR
			in.record(ev)
			return ev, 0
		case r < in.cfg.Intr+in.cfg.Again:
			ev.Kind, ev.Err = Again, unix.EAGAIN
			in.record(ev)
			return ev, 0
		case r < in.cfg.Intr+in.cfg.Again+in.cfg.Short && limit > 1:
			limit = 1 + in.cfg.Rand.IntN(limit-1)
		}
	}
	if limit < asked {
		ev.Kind = Short
	}
	return ev, limit
}

// done accounts for a call that reached the kernel.
func (in *Injector) done(ev Event, n int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if n < 0 {
		n = 0
	}
	ev.Moved = n
	for i, f := range in.cfg.Failures {
		if f.Ops&ev.Op != 0 && (f.FD < 0 || f.FD == ev.FD || (ev.Op == Splice && f.FD == ev.Out)) {
			in.passed[i] += int64(n)
		}
	}
	c := in.countsFor(ev)
	c.Bytes += uint64(n)
	if ev.Op == Splice {
		in.outB[ev.Out] += uint64(n)
	}
	in.record(ev)
}

// record counts ev and logs it if it was a fault. Called with mu held.
func (in *Injector) record(ev Event) {
	c := in.countsFor(ev)
	c.Calls++
	c.Kinds[ev.Kind]++
	if ev.Kind != Pass && len(in.log) < in.cfg.MaxLog {
		in.log = append(in.log, ev)
	}
}

func (in *Injector) countsFor(ev Event) *Counts {
	cs := in.counts[ev.FD]
	if cs == nil {
		cs = new([len(opNames)]Counts)
		in.counts[ev.FD] = cs
	}
	return &cs[ev.Op.index()]
}

// wake reports readiness again for the fds of an injected EAGAIN.
func (in *Injector) wake(ev Event) {
	in.cfg.Wake(ev.FD)
	if ev.Out >= 0 {
		in.cfg.Wake(ev.Out)
	}
}

// shorten returns the first limit bytes of iov, sharing its storage.
func shorten(iov [][]byte, limit int) [][]byte {
	if limit >= total(iov) {
		return iov
	}
	out := make([][]byte, 0, len(iov))
	for _, p := range iov {
		if limit == 0 {
			break
		}
		m := min(len(p), limit)
		out = append(out, p[:m])
		limit -= m
	}
	return out
}

func total(iov [][]byte) int {
	n := 0
	for _, p := range iov {
		n += len(p)
	}
	return n
}

// fault returns the error of a planned fault, calling Wake for EAGAIN.
func (in *Injector) fault(ev Event) (int, error) {
	if ev.Kind == Again {
		in.wake(ev)
	}
	return -1, ev.Err
}

// Read implements fdops.Ops.
func (in *Injector) Read(fd int, p []byte) (int, error) {
	ev, limit := in.plan(Read, fd, -1, len(p))
	if ev.Err != 0 {
		return in.fault(ev)
	}
	n, err := in.inner.Read(fd, p[:limit])
	in.done(ev, n)
	return n, err
}

// Write implements fdops.Ops.
func (in *Injector) Write(fd int, p []byte) (int, error) {
	ev, limit := in.plan(Write, fd, -1, len(p))
	if ev.Err != 0 {
		return in.fault(ev)
	}
	n, err := in.inner.Write(fd, p[:limit])
	in.done(ev, n)
	return n, err
}

// Readv implements fdops.Ops.
func (in *Injector) Readv(fd int, iov [][]byte) (int, error) {
	ev, limit := in.plan(Readv, fd, -1, total(iov))
	if ev.Err != 0 {
		return in.fault(ev)
	}
	n, err := in.inner.Readv(fd, shorten(iov, limit))
	in.done(ev, n)
	return n, err
}

// Writev implements fdops.Ops.
func (in *Injector) Writev(fd int, iov [][]byte) (int, error) {
	ev, limit := in.plan(Writev, fd, -1, total(iov))
	if ev.Err != 0 {
		return in.fault(ev)
	}
	n, err := in.inner.Writev(fd, shorten(iov, limit))
	in.done(ev, n)
	return n, err
}

// Vmsplice implements fdops.Ops.
func (in *Injector) Vmsplice(fd int, iov [][]byte, flags int) (int, error) {
	ev, limit := in.plan(Vmsplice, fd, -1, total(iov))
	if ev.Err != 0 {
		return in.fault(ev)
	}
	n, err := in.inner.Vmsplice(fd, shorten(iov, limit), flags)
	in.done(ev, n)
	return n, err
}

// Splice implements fdops.Ops.
func (in *Injector) Splice(fdIn, fdOut, n, flags int) (int, error) {
	ev, limit := in.plan(Splice, fdIn, fdOut, n)
	if ev.Err != 0 {
		return in.fault(ev)
	}
	m, err := in.inner.Splice(fdIn, fdOut, limit, flags)
	in.done(ev, m)
	return m, err
}
