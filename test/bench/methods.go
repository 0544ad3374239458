package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Role says how a method enters the comparisons.
type Role string

const (
	Baseline Role = "baseline" // direct: no middle, the limit
	Peer     Role = "peer"     // another relay; pipeloop is compared with the best of them
	Pipeloop Role = "pipeloop" // the program under test
	Anchor   Role = "anchor"   // the minimal relay of one design, a floor to compare with (latency)
)

// Method is one way to move data from the producer dd to the consumer dd.
type Method struct {
	Name  string
	Role  Role
	Spawn bool   // the middle spawns both dd's itself instead of sitting in a shell pipeline
	Desc  string // one line for the report
	// VolumeDiv > 1 moves 1/VolumeDiv of the cell volume: for a method so
	// slow at every block size that a full volume would dominate the run.
	VolumeDiv int
	// OptIn methods run only when named (-methods, -lat-methods).
	OptIn bool
	// middle returns the middle's argv for block size b. In spawn mode
	// producer and consumer are the two dd command lines to pass as stages.
	// nil means there is no middle (direct).
	middle func(t *Tools, b int, producer, consumer string) []string
	// unavailable returns why the method cannot run here, or "".
	unavailable func(t *Tools) string
}

func debian(name string) func(*Tools) string {
	return func(*Tools) string { return missing(lookPath(name), name, InstallHint) }
}

func needPipeloop(t *Tools) string {
	return missing(t.Pipeloop, "pipeloop binary", "build it with `make build` or pass -pipeloop")
}

// needFlag checks that pipeloop accepts a flag: it relays an empty stdin
// to /dev/null with it, which must succeed.
func needFlag(t *Tools, flag ...string) string {
	if why := needPipeloop(t); why != "" {
		return why
	}
	cmd := exec.Command(t.Pipeloop, flag...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Sprintf("pipeloop rejects %s: %v: %s", strings.Join(flag, " "), err, lastLines(string(out), 1))
	}
	return ""
}

func needPython(t *Tools) string {
	return missing(t.Python, "python3", "install python3")
}

func needIOCopy(t *Tools) string {
	return missing(t.IOCopy, "iocopy peer", "the harness builds it with `go build`")
}

func always(*Tools) string { return "" }

func needC(path func(*Tools) string) func(*Tools) string {
	return func(t *Tools) string {
		if path(t) == "" && t.CErr != "" {
			return t.CErr
		}
		return missing(path(t), "C relay", "the harness compiles it with cc")
	}
}

// pyReadSize is the thread pump's read size: the block size clamped to
// 4 KiB..64 KiB, the range the seed found best (it used read size = bs).
func pyReadSize(b int) int { return min(max(b, 4<<10), 64<<10) }

// Methods returns every throughput method in the order they run in a round.
func Methods() []Method {
	itoa := strconv.Itoa
	return []Method{
		{Name: "direct", Role: Baseline, Desc: "`dd | dd`, no middle: the limit",
			unavailable: always},
		{Name: "dd-chain", Role: Peer, Desc: "`dd bs=B` in the middle (the seed's second baseline)",
			middle: func(_ *Tools, b int, _, _ string) []string {
				return []string{"dd", "bs=" + itoa(b), "status=none"}
			}, unavailable: always},
		{Name: "py-thread", Role: Peer, Desc: "Python thread, blocking os.read/os.write, read size = B clamped to 4K–64K",
			middle: func(t *Tools, b int, _, _ string) []string {
				return []string{t.Python, filepath.Join(t.PeersDir, "pump_thread.py"), "--read-size", itoa(pyReadSize(b))}
			}, unavailable: needPython},
		{Name: "py-select-pipebuf", Role: Peer, VolumeDiv: 4,
			Desc: "Python select() + O_NONBLOCK, PIPE_BUF (4 KiB) reads and writes; ¼ of the cell volume (it runs at ~0.2–0.3 GB/s)",
			middle: func(t *Tools, _ int, _, _ string) []string {
				return []string{t.Python, filepath.Join(t.PeersDir, "pump_select.py")}
			}, unavailable: needPython},
		{Name: "py-select-64k", Role: Peer, Desc: "Python select() + O_NONBLOCK, 64 KiB reads, partial writes and EAGAIN tolerated",
			middle: func(t *Tools, _ int, _, _ string) []string {
				return []string{t.Python, filepath.Join(t.PeersDir, "pump_select.py"), "--io-size", "65536"}
			}, unavailable: needPython},
		{Name: "go-iocopy", Role: Peer, Desc: "Go `io.Copy(os.Stdout, os.Stdin)` (32 KiB read/write)",
			middle:      func(t *Tools, _ int, _, _ string) []string { return []string{t.IOCopy} },
			unavailable: needIOCopy},
		{Name: "go-iocopy-spawn", Role: Peer, Spawn: true, Desc: "Go exec.Cmd pipes joined by io.Copy, spawning both dd's",
			middle:      func(t *Tools, _ int, p, c string) []string { return []string{t.IOCopy, p, c} },
			unavailable: needIOCopy},
		{Name: "pv", Role: Peer, Desc: "`pv -q`",
			middle:      func(*Tools, int, string, string) []string { return []string{"pv", "-q"} },
			unavailable: debian("pv")},
		{Name: "pv-C", Role: Peer, Desc: "`pv -q -C` (no splice)",
			middle:      func(*Tools, int, string, string) []string { return []string{"pv", "-q", "-C"} },
			unavailable: debian("pv")},
		{Name: "socat", Role: Peer, VolumeDiv: 2, Desc: "`socat -u STDIN STDOUT` (8 KiB buffer); ½ of the cell volume (it runs at ~0.4–0.6 GB/s)",
			middle: func(*Tools, int, string, string) []string {
				return []string{"socat", "-u", "STDIN", "STDOUT"}
			}, unavailable: debian("socat")},
		{Name: "socat-b64k", Role: Peer, Desc: "`socat -u -b 65536 STDIN STDOUT`",
			middle: func(*Tools, int, string, string) []string {
				return []string{"socat", "-u", "-b", "65536", "STDIN", "STDOUT"}
			}, unavailable: debian("socat")},
		{Name: "mbuffer", Role: Peer, VolumeDiv: 2, Desc: "`mbuffer -q -m 4M`; ½ of the cell volume (it runs at ~0.4–0.6 GB/s)",
			middle: func(*Tools, int, string, string) []string {
				return []string{"mbuffer", "-q", "-m", "4M"}
			}, unavailable: debian("mbuffer")},
		{Name: "pipeloop-copy", Role: Pipeloop, Desc: "`pipeloop --mode copy` (stdin mode; lends ring pages to the output pipe with vmsplice)",
			middle: func(t *Tools, _ int, _, _ string) []string {
				return []string{t.Pipeloop, "--mode", "copy"}
			}, unavailable: needPipeloop},
		{Name: "pipeloop-copy-write", Role: Pipeloop, Desc: "`pipeloop --mode copy --vmsplice=false` (stdin mode; read and write only)",
			middle: func(t *Tools, _ int, _, _ string) []string {
				return []string{t.Pipeloop, "--mode", "copy", "--vmsplice=false"}
			}, unavailable: needPipeloop},
		{Name: "pipeloop-splice", Role: Pipeloop, Desc: "`pipeloop --mode splice` (stdin mode)",
			middle: func(t *Tools, _ int, _, _ string) []string {
				return []string{t.Pipeloop, "--mode", "splice"}
			}, unavailable: needPipeloop},
		{Name: "pipeloop", Role: Pipeloop, Desc: "`pipeloop` defaults (stdin mode, auto = splice)",
			middle:      func(t *Tools, _ int, _, _ string) []string { return []string{t.Pipeloop} },
			unavailable: needPipeloop},
		{Name: "pipeloop-progress", Role: Pipeloop, Desc: "`pipeloop --progress` (stdin mode; the live status line's cost against pipeloop)",
			middle: func(t *Tools, _ int, _, _ string) []string {
				return []string{t.Pipeloop, "--progress"}
			}, unavailable: needPipeloop},
		{Name: "pipeloop-lines", Role: Pipeloop, Desc: "`pipeloop --lines` (stdin mode; counting lines makes the link copy: its cost against pipeloop-copy)",
			middle: func(t *Tools, _ int, _, _ string) []string {
				return []string{t.Pipeloop, "--lines"}
			}, unavailable: needPipeloop},
		{Name: "pipeloop-ratelimit", Role: Pipeloop, Desc: "`pipeloop --rate-limit 1000G` (stdin mode; a limit far above the rate: the token bucket's cost against pipeloop)",
			middle: func(t *Tools, _ int, _, _ string) []string {
				return []string{t.Pipeloop, "--rate-limit", "1000G"}
			}, unavailable: needPipeloop},
		{Name: "pipeloop-spawn", Role: Pipeloop, Spawn: true, Desc: "`pipeloop 'dd …' 'dd …'` spawning both dd's",
			middle:      func(t *Tools, _ int, p, c string) []string { return []string{t.Pipeloop, p, c} },
			unavailable: needPipeloop},
		{Name: "pipeloop-spawn-trace", Role: Pipeloop, Spawn: true, Desc: "`pipeloop --trace 'dd …' 'dd …'`: eBPF stall tracing of pipeloop and both dd's, timed from the spawn, so loading and attaching the tracer (~0.1–0.3 s) is in the cell; the fair overhead figure is the tracing-overhead section",
			middle: func(t *Tools, _ int, p, c string) []string { return []string{t.Pipeloop, "--trace", p, c} },
			unavailable: func(t *Tools) string {
				if os.Geteuid() != 0 {
					return "--trace needs root (or CAP_BPF+CAP_PERFMON) for eBPF"
				}
				return needPipeloop(t)
			}},
	}
}

// LatencyMethods returns the relays of the latency benchmark: for each, the
// argv of one relay instance (stdin to stdout), or nil for direct.
func LatencyMethods() []Method {
	one := func(argv func(t *Tools) []string) func(*Tools, int, string, string) []string {
		return func(t *Tools, _ int, _, _ string) []string { return argv(t) }
	}
	return []Method{
		{Name: "direct", Role: Baseline, Desc: "ping → pong → ping over two pipes",
			unavailable: always},
		{Name: "c-blocking", Role: Anchor, Desc: "the floor of a blocking relay: C, one thread, read(2)/write(2) through a 64 KiB buffer (peers/crelay/blocking.c)",
			middle: one(func(t *Tools) []string { return []string{t.CBlock} }), unavailable: needC(func(t *Tools) string { return t.CBlock })},
		{Name: "c-epoll", Role: Anchor, Desc: "the floor of an event loop: C, one thread, level-triggered epoll, O_NONBLOCK, partial writes (peers/crelay/epoll.c)",
			middle: one(func(t *Tools) []string { return []string{t.CEpoll} }), unavailable: needC(func(t *Tools) string { return t.CEpoll })},
		{Name: "c-uring", Role: Anchor, Desc: "the floor of an io_uring relay: C, one thread, raw io_uring syscalls, SINGLE_ISSUER|DEFER_TASKRUN; one io_uring_enter per hop submits the write of what was read linked to the next read and waits for its completion (peers/crelay/uring.c)",
			middle: one(func(t *Tools) []string { return []string{t.CUring} }), unavailable: needC(func(t *Tools) string { return t.CUring })},
		{Name: "c-uring-coop", Role: Anchor, OptIn: true, Desc: "uring.c with SINGLE_ISSUER|COOP_TASKRUN instead of DEFER_TASKRUN (opt-in: setup-flag comparison)",
			middle: one(func(t *Tools) []string { return []string{t.CUring, "coop"} }), unavailable: needC(func(t *Tools) string { return t.CUring })},
		{Name: "c-uring-plain", Role: Anchor, OptIn: true, Desc: "uring.c with no setup flags (opt-in: setup-flag comparison)",
			middle: one(func(t *Tools) []string { return []string{t.CUring, "plain"} }), unavailable: needC(func(t *Tools) string { return t.CUring })},
		{Name: "go-epoll", Role: Anchor, Desc: "the floor of a Go event loop: epoll.c in Go, LockOSThread, unix.EpollWait + unix.Read/Write (peers/goepoll)",
			middle: one(func(t *Tools) []string { return []string{t.GoEpoll} }),
			unavailable: func(t *Tools) string {
				return missing(t.GoEpoll, "goepoll peer", "the harness builds it with `go build`")
			}},
		{Name: "go-uring", Role: Anchor, Desc: "the floor of a Go io_uring relay: uring.c in Go, LockOSThread, the waiting io_uring_enter through unix.Syscall6 (peers/gouring)",
			middle: one(func(t *Tools) []string { return []string{t.GoUring} }),
			unavailable: func(t *Tools) string {
				return missing(t.GoUring, "gouring peer", "the harness builds it with `go build`")
			}},
		{Name: "go-uring-raw", Role: Anchor, OptIn: true, Desc: "go-uring with the waiting io_uring_enter through unix.RawSyscall6, hidden from the runtime (opt-in)",
			middle: one(func(t *Tools) []string { return []string{t.GoUring, "defer", "raw"} }),
			unavailable: func(t *Tools) string {
				return missing(t.GoUring, "gouring peer", "the harness builds it with `go build`")
			}},
		{Name: "pipeloop", Role: Pipeloop, Desc: "`pipeloop` on each direction",
			middle: one(func(t *Tools) []string { return []string{t.Pipeloop} }), unavailable: needPipeloop},
		{Name: "pipeloop-ref", Role: Anchor, OptIn: true, Desc: "`pipeloop` on each direction, the build named by -pipeloop-ref (opt-in: to compare two builds in one run)",
			middle: one(func(t *Tools) []string { return []string{t.PipeloopRef} }),
			unavailable: func(t *Tools) string {
				return missing(t.PipeloopRef, "reference pipeloop", "pass -pipeloop-ref")
			}},
		{Name: "pipeloop-busypoll", Role: Pipeloop, OptIn: true, Desc: "`pipeloop --busy-poll 50us` on each direction (opt-in with -lat-methods; informational: targets use the default)",
			middle:      one(func(t *Tools) []string { return []string{t.Pipeloop, "--busy-poll", "50us"} }),
			unavailable: func(t *Tools) string { return needFlag(t, "--busy-poll", "50us") }},
		{Name: "pipeloop-copy", Role: Pipeloop, OptIn: true, Desc: "`pipeloop --mode copy` on each direction (opt-in with -lat-methods; informational)",
			middle: one(func(t *Tools) []string { return []string{t.Pipeloop, "--mode", "copy"} }), unavailable: needPipeloop},
		{Name: "go-iocopy", Role: Peer, Desc: "`io.Copy(os.Stdout, os.Stdin)` on each direction",
			middle: one(func(t *Tools) []string { return []string{t.IOCopy} }), unavailable: needIOCopy},
		{Name: "socat", Role: Peer, Desc: "`socat -u STDIN STDOUT` on each direction",
			middle:      one(func(*Tools) []string { return []string{"socat", "-u", "STDIN", "STDOUT"} }),
			unavailable: debian("socat")},
		{Name: "py-thread", Role: Peer, Desc: "Python thread pump on each direction",
			middle: one(func(t *Tools) []string {
				return []string{t.Python, filepath.Join(t.PeersDir, "pump_thread.py")}
			}), unavailable: needPython},
	}
}

// selectMethods keeps the methods named in names (all but the opt-in ones
// when names is empty), in their round order.
func selectMethods(all []Method, names []string) []Method {
	if len(names) == 0 {
		var out []Method
		for _, m := range all {
			if !m.OptIn {
				out = append(out, m)
			}
		}
		return out
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []Method
	for _, m := range all {
		if want[m.Name] {
			out = append(out, m)
		}
	}
	return out
}
