//go:build linux

package trace

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// Sentinel errors. Every error from Check and New wraps one of them (or is
// a plain one-line error for an unexpected failure).
var (
	// ErrPermission: the process lacks the privilege to load BPF tracing
	// programs. It wraps os.ErrPermission.
	ErrPermission = fmt.Errorf("trace: insufficient privilege: %w", os.ErrPermission)
	// ErrUnsupported: the platform or kernel cannot run the tracer. It
	// wraps errors.ErrUnsupported.
	ErrUnsupported = fmt.Errorf("trace: not supported: %w", errors.ErrUnsupported)
	// ErrClosed: the Tracer was closed. It wraps os.ErrClosed.
	ErrClosed = fmt.Errorf("trace: tracer closed: %w", os.ErrClosed)
	// ErrLimit: Watch found Options.MaxProcesses processes already
	// watched. It wraps syscall.E2BIG, what the full map returned.
	ErrLimit = fmt.Errorf("tracer limit reached: %w", syscall.E2BIG)
)

// Minimum kernel: bpf_task_pt_regs arrived in 5.15 (tp_btf in 5.5, task
// storage in 5.11).
const minMajor, minMinor = 5, 15

// Capability bits, from linux/capability.h.
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// oneLineError is an error whose message is a single line for the user,
// classified by the sentinel it unwraps to.
type oneLineError struct {
	msg  string
	kind error // ErrPermission or ErrUnsupported
}

func (e *oneLineError) Error() string { return e.msg }
func (e *oneLineError) Unwrap() error { return e.kind }

func permissionError(format string, args ...any) error {
	return &oneLineError{msg: "trace: " + fmt.Sprintf(format, args...), kind: ErrPermission}
}

func unsupportedError(format string, args ...any) error {
	return &oneLineError{msg: "trace: " + fmt.Sprintf(format, args...), kind: ErrUnsupported}
}

// Check reports whether tracing can work in this process on this machine,
// without loading anything. It returns nil, or an error whose message is
// one line naming what is missing; the error wraps ErrUnsupported (wrong
// platform, old kernel, no BTF) or ErrPermission (no privilege).
// New calls Check first.
func Check() error {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return unsupportedError("unsupported platform %s/%s (needs linux/amd64)", runtime.GOOS, runtime.GOARCH)
	}
	if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		release := strings.TrimSpace(string(rel))
		if major, minor, ok := parseRelease(release); ok && (major < minMajor || major == minMajor && minor < minMinor) {
			return unsupportedError("kernel %s is too old (needs %d.%d or later)", release, minMajor, minMinor)
		}
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return unsupportedError("kernel has no BTF (/sys/kernel/btf/vmlinux missing; needs CONFIG_DEBUG_INFO_BTF)")
	}
	caps, err := effectiveCaps()
	if err != nil {
		return fmt.Errorf("trace: read capabilities: %w", err)
	}
	has := func(c uint) bool { return caps&(1<<c) != 0 }
	if !has(capSysAdmin) && !(has(capBPF) && has(capPerfmon)) {
		return permissionError("needs root or CAP_BPF+CAP_PERFMON (running as uid %d)", os.Geteuid())
	}
	return nil
}

// parseRelease parses "6.18.44-foo" into 6, 18.
func parseRelease(s string) (major, minor int, ok bool) {
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minorStr := parts[1]
	if i := strings.IndexFunc(minorStr, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minorStr = minorStr[:i]
	}
	minor, err2 := strconv.Atoi(minorStr)
	return major, minor, err1 == nil && err2 == nil
}

// effectiveCaps returns the CapEff mask of this process from /proc.
func effectiveCaps() (uint64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapEff line in /proc/self/status")
}
