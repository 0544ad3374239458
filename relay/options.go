//go:build linux

package relay

import (
	"errors"
	"fmt"

	"github.com/pipeloop/pipeloop/internal/fdops"
)

// Mode selects a link's data path.
type Mode uint8

const (
	ModeAuto   Mode = iota // splice where an end is a pipe, else copy; copy if splice fails with EINVAL
	ModeCopy               // always copy through the ring
	ModeSplice             // always splice; an error if neither end is a pipe
)

var modeNames = [...]string{"auto", "copy", "splice"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", m)
}

// ParseMode parses "auto", "copy" or "splice".
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if s == n {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown mode %q (want auto, copy or splice)", s)
}

// MarshalText and UnmarshalText make a Mode usable with flag.TextVar and
// encoding/json: the text is the name ParseMode reads.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText sets m from "auto", "copy" or "splice".
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err == nil {
		*m = v
	}
	return err
}

// Defaults measured on a 2-vCPU Linux 6.18 machine (see docs/bench):
// 128 KiB rings and 1 MiB pipes were the fastest copy path for dd|X|dd
// with write; lending pages with vmsplice, 1 MiB held per link was
// (2.95 GB/s pinned against 2.65 with 128 KiB).
const (
	DefaultLendSize    = 1 << 20
	DefaultBufferSize  = 128 << 10
	DefaultPipeSize    = 1 << 20
	DefaultSpliceChunk = 1 << 20
)

// Options are a Relay's defaults for the links it creates.
type Options struct {
	Mode       Mode
	BufferSize int // ring capacity per link (rounded up to a power of two > PIPE_BUF); 0 = DefaultBufferSize
	// LendSize is the most bytes a link lending ring pages to a pipe (see
	// NoVmsplice) holds, rounded as BufferSize. 0 = BufferSize when that
	// is set, else DefaultLendSize.
	LendSize int
	PipeSize int // F_SETPIPE_SZ for pipes the relay creates; 0 = DefaultPipeSize, <0 = leave as is
	// PipeBudget bounds the bytes the pipes of a relay without
	// CAP_SYS_RESOURCE or CAP_SYS_ADMIN hold, when links grow them to
	// PipeSize only once busy (see pipeSizer): 0 = half of
	// /proc/sys/fs/pipe-user-pages-soft, <0 = no budget (size at creation).
	PipeBudget  int
	SpliceChunk int // most bytes asked of one splice call; 0 = DefaultSpliceChunk
	KeepRings   int // idle rings kept in the pool; 0 = 64
	// NoVmsplice makes copying links write into pipes instead of lending
	// them whole ring pages with vmsplice(2) (fdops.NewVmspliceRing). Lending
	// is used only where transparent huge pages are available.
	NoVmsplice bool
	// AsyncSpawn forks stages on a thread of the relay's own instead of
	// the loop thread, so that established links never wait for a
	// fork/exec (see "Spawning" in the package doc): StartPipeline then
	// returns before the stages exist, and their pids and start errors
	// are known from PipelineConfig.OnStart on.
	AsyncSpawn bool
	// Warn, when set, receives what the relay does other than asked, once
	// each (a pipe size clamped, busy pipes kept small by the budget).
	// Loop goroutine, or New's caller.
	Warn func(msg string)
	// RateLimit, when positive, limits each link the relay creates to
	// taking that many bytes a second from its source, with a token bucket
	// on the loop's timers (see ratelimit.go and Link.SetRateLimit). A
	// transform link is not limited. A limited link does not lend pages
	// to a pipe (NoVmsplice).
	RateLimit int64
	// CountLines makes links count the lines they deliver
	// (LinkStats.Lines). A link must hold the bytes to count them, so
	// links copy: ModeAuto becomes ModeCopy, and ModeSplice is an error.
	// A transform link does not count.
	CountLines bool
	// URing lets a link that carries small messages between two pipes
	// move them through io_uring, with the loop sleeping in
	// io_uring_enter (uring.go): one system call per message instead of an
	// epoll_wait and a splice, for the lowest latency. Bulk data stays on
	// splice. Off by default; where io_uring is unavailable (before Linux
	// 6.1, or disabled by kernel.io_uring_disabled or seccomp) links stay
	// on epoll. The pipeloop command turns it on for its relay modes.
	// A link alone on its loop reads its messages in the loop's sleep
	// with read(2) instead (blocking.go): while it sleeps there a Post,
	// Stop or event on another fd ends the read through a helper
	// goroutine, which sends the loop's thread SIGURG (the runtime's own
	// preemption signal; a program that asks for SIGURG with
	// os/signal.Notify will see it), and with GOMAXPROCS=1 reaches the
	// loop within sysmon's hand-off of the P, 20 µs to 10 ms.
	URing bool

	// ops is the system-call seam, set by tests (WithOps) to inject
	// faults; nil = the real calls.
	ops fdops.Ops
}

func (o *Options) fill() error {
	if o.LendSize == 0 {
		o.LendSize = o.BufferSize
		if o.LendSize == 0 {
			o.LendSize = DefaultLendSize
		}
	}
	if o.BufferSize == 0 {
		o.BufferSize = DefaultBufferSize
	}
	n, err := fdops.RoundSize(o.BufferSize)
	if err != nil {
		return fmt.Errorf("buffer size: %w", err)
	}
	o.BufferSize = n
	if n, err = fdops.RoundSize(o.LendSize); err != nil {
		return fmt.Errorf("lend size: %w", err)
	}
	o.LendSize = n
	if o.PipeSize == 0 {
		o.PipeSize = DefaultPipeSize
	}
	if o.SpliceChunk <= 0 {
		o.SpliceChunk = DefaultSpliceChunk
	}
	if o.KeepRings <= 0 {
		o.KeepRings = 64
	}
	if o.CountLines && o.Mode == ModeSplice {
		return errors.New("counting lines needs the bytes in hand, and splice never copies them: use mode copy or auto")
	}
	if o.Mode > ModeSplice {
		return fmt.Errorf("unknown mode %d", o.Mode)
	}
	if o.ops == nil {
		o.ops = fdops.Sys{}
	}
	return nil
}
