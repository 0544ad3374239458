//go:build linux

package faultfd

import (
	"fmt"
	"strings"
)

// Moved is the number of bytes that calls in ops moved on fd (splice:
// counted for both its ends).
func (in *Injector) Moved(fd int, ops Op) uint64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	var n uint64
	if cs := in.counts[fd]; cs != nil {
		for i := range opNames {
			if ops&(1<<i) != 0 {
				n += cs[i].Bytes
			}
		}
	}
	if ops&Splice != 0 {
		n += in.outB[fd]
	}
	return n
}

// Totals sums the counts of calls in ops over every fd.
func (in *Injector) Totals(ops Op) Counts {
	in.mu.Lock()
	defer in.mu.Unlock()
	var t Counts
	for _, cs := range in.counts {
		for i := range opNames {
			if ops&(1<<i) == 0 {
				continue
			}
			t.Calls += cs[i].Calls
			t.Bytes += cs[i].Bytes
			for k := range t.Kinds {
				t.Kinds[k] += cs[i].Kinds[k]
			}
		}
	}
	return t
}

// Injected is the number of calls that got a fault of kind k.
func (in *Injector) Injected(k Kind) uint64 { return in.Totals(AnyOp).Kinds[k] }

// Fatal returns the fatal faults injected, in order.
func (in *Injector) Fatal() []Event {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Event(nil), in.fatal...)
}

// Log returns the faults injected, in order, up to Config.MaxLog.
func (in *Injector) Log() []Event {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Event(nil), in.log...)
}

// String summarises what was injected, for test logs.
func (in *Injector) String() string {
	t := in.Totals(AnyOp)
	var b strings.Builder
	fmt.Fprintf(&b, "%d calls, %d bytes", t.Calls, t.Bytes)
	for k := Intr; k <= Fail; k++ {
		if t.Kinds[k] > 0 {
			fmt.Fprintf(&b, ", %d %v", t.Kinds[k], k)
		}
	}
	return b.String()
}
