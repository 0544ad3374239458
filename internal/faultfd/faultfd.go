//go:build linux

package faultfd

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/pipeloop/pipeloop/internal/fdops"
	"golang.org/x/sys/unix"
)

// Op is a set of the system calls in fdops.Ops.
type Op uint8

const (
	Read Op = 1 << iota
	Readv
	Write
	Writev
	Splice
	Vmsplice

	Reads  = Read | Readv              // calls that fill a ring
	Writes = Write | Writev | Vmsplice // calls that drain a ring
	AnyOp  = Reads | Writes | Splice
)

var opNames = [...]string{"read", "readv", "write", "writev", "splice", "vmsplice"}

func (o Op) String() string {
	var parts []string
	for i, n := range opNames {
		if o&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// index is the position of a single-call Op in per-call arrays.
func (o Op) index() int {
	for i := range opNames {
		if o == 1<<i {
			return i
		}
	}
	panic("faultfd: not a single call: " + o.String())
}

// Kind is what an Injector did to one call.
type Kind uint8

const (
	Pass  Kind = iota // passed through untouched
	Intr              // failed with EINTR, nothing moved
	Again             // answered EAGAIN, nothing moved; Wake was called
	Short             // asked the kernel for fewer bytes than the caller did
	Fail              // failed with a Failure's errno, nothing moved
)

var kindNames = [...]string{"pass", "EINTR", "EAGAIN", "short", "fail"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Failure is a fatal fault. Once After bytes have moved through calls in
// Ops on FD, every later such call fails with Err and moves nothing. The
// call that would cross After is cut short to end exactly there, so a
// failure on the sink leaves exactly After bytes delivered.
type Failure struct {
	Ops   Op         // calls it applies to (0: AnyOp)
	FD    int        // fd it applies to; for splice either end; -1: any
	After int64      // bytes that pass before it fires
	Err   unix.Errno // what the failing calls return
}

func (f Failure) String() string {
	return fmt.Sprintf("%v on fd %d after %d bytes: %v", f.Ops, f.FD, f.After, f.Err.Error())
}

// Config says which faults to inject. Probabilities are per call and
// independent; a call gets at most one fault.
type Config struct {
	// Rand drives every random choice. Required when a probability is
	// set; seed it and log the seed so a failure can be replayed.
	Rand *rand.Rand
	// Intr, Again and Short are the probabilities that a call fails with
	// EINTR, answers EAGAIN or moves a random part of what was asked.
	// Each must be below 1, or the caller could never make progress.
	Intr, Again, Short float64
	// Only limits the random faults to these calls (0: AnyOp). Failures
	// have their own Ops.
	Only Op
	// Wake must make the fd report readiness again later, as the kernel
	// does after a real EAGAIN once the fd becomes ready. It is called on
	// the caller's goroutine, inside the failing call, once per fd (both
	// ends for splice). Again is refused without it: see the package doc.
	Wake func(fd int)
	// Failures are the fatal faults, checked before the random ones.
	Failures []Failure
	// MaxLog bounds the events kept by Log (0: 4096). Counts are exact
	// regardless.
	MaxLog int
}

// Event is one injected fault.
type Event struct {
	Call  int  // call number, from 1, over every call the Injector saw
	Op    Op   // the call
	FD    int  // the fd (splice: in)
	Out   int  // splice: out; else -1
	Kind  Kind // what was done
	Asked int  // bytes the caller asked for
	Moved int  // bytes the kernel moved (Short) or 0
	Err   unix.Errno
}

func (e Event) String() string {
	s := fmt.Sprintf("#%d %v fd %d", e.Call, e.Op, e.FD)
	if e.Out >= 0 {
		s += fmt.Sprintf("→%d", e.Out)
	}
	switch e.Kind {
	case Short:
		return s + fmt.Sprintf(": short %d of %d", e.Moved, e.Asked)
	case Fail:
		return s + ": " + e.Err.Error()
	}
	return s + ": " + e.Kind.String()
}

// Counts are an Injector's totals for one call.
type Counts struct {
	Calls uint64                 // calls made
	Bytes uint64                 // bytes moved by them
	Kinds [len(kindNames)]uint64 // calls per Kind
}

// Injector is an fdops.Ops that injects faults into another. Create it with
// New.
type Injector struct {
	inner fdops.Ops
	cfg   Config

	mu     sync.Mutex
	calls  int
	passed []int64                       // bytes moved per Failure, by index
	counts map[int]*[len(opNames)]Counts // by fd (splice: by in)
	outB   map[int]uint64                // bytes spliced into each out fd
	log    []Event
	fatal  []Event
}

// New returns an Injector over inner (nil: fdops.Sys).
func New(inner fdops.Ops, cfg Config) (*Injector, error) {
	if inner == nil {
		inner = fdops.Sys{}
	}
	for _, p := range []float64{cfg.Intr, cfg.Again, cfg.Short} {
		if p < 0 || p >= 1 {
			return nil, fmt.Errorf("fault probability %v outside [0, 1)", p)
		}
	}
	if cfg.Intr+cfg.Again+cfg.Short >= 1 {
		return nil, errors.New("fault probabilities add up to 1 or more: no call would ever pass")
	}
	if (cfg.Intr > 0 || cfg.Again > 0 || cfg.Short > 0) && cfg.Rand == nil {
		return nil, errors.New("random faults need Config.Rand")
	}
	if cfg.Again > 0 && cfg.Wake == nil {
		return nil, errors.New("EAGAIN without Config.Wake would be an EAGAIN the kernel never gives: no edge follows it")
	}
	if cfg.Only == 0 {
		cfg.Only = AnyOp
	}
	if cfg.MaxLog <= 0 {
		cfg.MaxLog = 4096
	}
	fs := make([]Failure, len(cfg.Failures))
	for i, f := range cfg.Failures {
		if f.Ops == 0 {
			f.Ops = AnyOp
		}
		if f.Err == 0 {
			return nil, fmt.Errorf("failure %d has no errno", i)
		}
		fs[i] = f
	}
	cfg.Failures = fs
	return &Injector{inner: inner, cfg: cfg, passed: make([]int64, len(fs)),
		counts: make(map[int]*[len(opNames)]Counts), outB: make(map[int]uint64)}, nil
}

// MustNew is New for tests: it panics on a bad Config.
func MustNew(inner fdops.Ops, cfg Config) *Injector {
	in, err := New(inner, cfg)
	if err != nil {
		panic(err)
	}
	return in
}
