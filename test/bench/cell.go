package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Sample is one throughput measurement: one method, block size and pin mode
// in one round.
type Sample struct {
	Method  string  `json:"method"`
	Block   int     `json:"block"`
	Pinned  bool    `json:"pinned"`
	Round   int     `json:"round"`
	Bytes   int64   `json:"bytes"`   // bytes the consumer dd received
	Seconds float64 `json:"seconds"` // wall time from starting sh to reaping it
	GBps    float64 `json:"gbps"`    // Bytes / Seconds / 1e9
	// CPU of every process in the pipeline (sh, both dd's, the middle and
	// its children), from the rusage of the sh child.
	UserSec float64 `json:"user_s"`
	SysSec  float64 `json:"sys_s"`
	// The middle process alone, from the wrapper (nil for direct).
	Middle *Usage `json:"middle,omitempty"`
	Err    string `json:"error,omitempty"`
}

// CPUPerGB is the pipeline's CPU seconds per 1e9 bytes moved.
func (s Sample) CPUPerGB() float64 {
	if s.Bytes == 0 {
		return 0
	}
	return (s.UserSec + s.SysSec) / (float64(s.Bytes) / 1e9)
}

// cell is everything needed to run one throughput measurement.
type cell struct {
	method  Method
	block   int
	pinned  bool
	round   int
	bytes   int64
	tools   *Tools
	tmp     string // directory for the wrapper's usage file
	timeout time.Duration
}

// script returns the sh -c script of the cell and the usage file the
// wrapper writes ("" when there is no middle).
func (c *cell) script() (string, string) {
	producer := fmt.Sprintf("dd if=/dev/zero bs=%d count=%d status=none", c.block, c.bytes/int64(c.block))
	consumer := fmt.Sprintf("dd of=/dev/null bs=%d", c.block)
	if c.method.middle == nil {
		return producer + " | " + consumer, ""
	}
	usage := filepath.Join(c.tmp, fmt.Sprintf("usage-%s-%d-%t-%d.json", c.method.Name, c.block, c.pinned, c.round))
	argv := c.method.middle(c.tools, c.block, producer, consumer)
	wrapped := WrapEnv + "=" + shQuote(usage) + " " + shJoin(append([]string{c.tools.Self}, argv...))
	if c.method.Spawn {
		return wrapped, usage
	}
	return producer + " | " + wrapped + " | " + consumer, usage
}

var ddBytes = regexp.MustCompile(`(?m)^(\d+) bytes`)

// run measures the cell. Failures are recorded in Sample.Err, not returned,
// so one broken method does not stop the run.
func (c *cell) run(ctx context.Context) Sample {
	s := Sample{Method: c.method.Name, Block: c.block, Pinned: c.pinned, Round: c.round}
	script, usageFile := c.script()
	argv := []string{"sh", "-c", script}
	if c.pinned {
		argv = append([]string{c.tools.Taskset, "-c", "0"}, argv...)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.tmp
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second

	start := time.Now()
	err := cmd.Run()
	s.Seconds = time.Since(start).Seconds()
	if st := cmd.ProcessState; st != nil {
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			s.UserSec = float64(ru.Utime.Nano()) / 1e9
			s.SysSec = float64(ru.Stime.Nano()) / 1e9
		}
	}
	if m := ddBytes.FindAllStringSubmatch(stderr.String(), -1); len(m) > 0 {
		s.Bytes, _ = strconv.ParseInt(m[len(m)-1][1], 10, 64)
	}
	if usageFile != "" {
		if data, rerr := os.ReadFile(usageFile); rerr == nil {
			var u Usage
			if json.Unmarshal(data, &u) == nil {
				s.Middle = &u
			}
			os.Remove(usageFile)
		}
	}
	switch {
	case ctx.Err() != nil:
		s.Err = fmt.Sprintf("timed out after %v", c.timeout)
	case err != nil:
		s.Err = fmt.Sprintf("%v: %s", err, lastLines(stderr.String(), 3))
	case s.Bytes != c.bytes:
		s.Err = fmt.Sprintf("consumer got %d bytes, want %d: %s", s.Bytes, c.bytes, lastLines(stderr.String(), 3))
	case usageFile != "" && s.Middle == nil:
		s.Err = "wrapper wrote no usage"
	}
	if s.Err == "" && s.Seconds > 0 {
		s.GBps = float64(s.Bytes) / s.Seconds / 1e9
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// shQuote quotes s for sh.
func shQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./,:+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shQuote(a)
	}
	return strings.Join(q, " ")
}
