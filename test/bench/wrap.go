package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// WrapEnv, when set in the environment of the harness binary, turns it into
// the middle-process wrapper: it runs its arguments as a child with the same
// stdin, stdout and stderr, waits for it, writes the child's rusage as JSON
// to the file named by the variable, and exits with the child's status.
// The harness's main (and TestMain in tests) checks it before anything else.
//
// Peak RSS is the child's VmHWM from /proc/PID/status, sampled while it
// runs (every millisecond at first, backing off to every 10 ms; the high-water
// mark only grows, so a sample misses only growth in the child's last few
// milliseconds). ru_maxrss from wait4 is no use here: Go starts children with
// vfork, and exec records the parent's high-water mark in the child's
// maxrss, so every child of a Go wrapper would show at least the wrapper's
// ~7 MiB. VmHWM belongs to the exec'd image's own mm and is clean. For
// spawn-mode middles it is pipeloop's own peak, without its dd stages.
// CPU comes from wait4 and covers the child and its reaped descendants.
// The wrapper's own CPU is not counted: it only sleeps and samples.
const WrapEnv = "PIPELOOP_BENCH_WRAP"

// Usage is the rusage of the middle process as the wrapper saw it.
type Usage struct {
	PeakRSSKB int64   `json:"peak_rss_kb"` // highest VmHWM sampled
	Samples   int     `json:"rss_samples"` // how many VmHWM samples were read
	UserSec   float64 `json:"user_s"`
	SysSec    float64 `json:"sys_s"`
}

// RunWrapper is the wrapper's body: main calls it when WrapEnv is set and
// exits with the code it returns.
func RunWrapper(out string, argv []string) (int, error) {
	if len(argv) == 0 {
		return 2, errors.New("wrapper: no command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = withoutEnv(os.Environ(), WrapEnv)
	if err := cmd.Start(); err != nil {
		return 127, fmt.Errorf("wrapper: start %s: %w", argv[0], err)
	}
	// Our copies of the pipes must not keep the neighbours from seeing EOF
	// (the child holds its own); stdin is closed so the producer gets EPIPE
	// if the middle dies, as it would without the wrapper.
	os.Stdin.Close()
	os.Stdout.Close()
	done := make(chan struct{})
	peak := make(chan [2]int64, 1)
	go func() { peak <- sampleHWM(cmd.Process.Pid, done) }()
	werr := cmd.Wait()
	close(done)
	hwm := <-peak
	st := cmd.ProcessState
	if st == nil {
		return 127, fmt.Errorf("wrapper: wait %s: %w", argv[0], werr)
	}
	ru, _ := st.SysUsage().(*syscall.Rusage)
	var u Usage
	if ru != nil {
		u = Usage{
			PeakRSSKB: hwm[0],
			Samples:   int(hwm[1]),
			UserSec:   float64(ru.Utime.Nano()) / 1e9,
			SysSec:    float64(ru.Stime.Nano()) / 1e9,
		}
	}
	data, err := json.Marshal(u)
	if err == nil {
		err = os.WriteFile(out, data, 0o644)
	}
	if err != nil {
		return 1, fmt.Errorf("wrapper: write %s: %w", out, err)
	}
	code := st.ExitCode()
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	return code, nil
}

// sampleHWM reads VmHWM of pid until done is closed and returns the highest
// value in KiB and the number of successful reads.
func sampleHWM(pid int, done <-chan struct{}) [2]int64 {
	path := fmt.Sprintf("/proc/%d/status", pid)
	var best, n int64
	buf := make([]byte, 4096)
	wait := time.Millisecond
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-done:
			return [2]int64{best, n}
		case <-t.C:
		}
		if kb, ok := readHWM(path, buf); ok {
			best, n = max(best, kb), n+1
		}
		wait = min(2*wait, 10*time.Millisecond)
		t.Reset(wait)
	}
}

// readHWM reads the VmHWM line of a /proc/PID/status file.
func readHWM(path string, buf []byte) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	n, _ := io.ReadFull(f, buf)
	f.Close()
	_, rest, ok := bytes.Cut(buf[:n], []byte("\nVmHWM:"))
	if !ok {
		return 0, false // a zombie has no mm
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(line), []byte("kB")))), 10, 64)
	return kb, err == nil
}

func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if len(kv) > len(name) && kv[:len(name)+1] == name+"=" {
			continue
		}
		out = append(out, kv)
	}
	return out
}
