package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// WrapEnv, when set in the environment of the harness binary, turns it into
// the middle-process wrapper: it runs its arguments as a child with the same
// stdin, stdout and stderr, waits for it, writes the child's rusage as JSON
// to the file named by the variable, and exits with the child's status.
// The harness's main (and TestMain in tests) checks it before anything else.
//
// ru_maxrss from wait4 is the peak RSS of the child or of the largest of its
// reaped descendants, so for spawn-mode middles it covers pipeloop and its
// dd stages (a dd with bs=256K peaks near 2.5 MiB, well below any relay).
// The wrapper's own memory and CPU are not counted: it only sleeps in wait4.
const WrapEnv = "PIPELOOP_BENCH_WRAP"

// Usage is the rusage of the middle process as the wrapper saw it.
type Usage struct {
	MaxRSSKB int64   `json:"maxrss_kb"`
	UserSec  float64 `json:"user_s"`
	SysSec   float64 `json:"sys_s"`
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
	werr := cmd.Wait()
	st := cmd.ProcessState
	if st == nil {
		return 127, fmt.Errorf("wrapper: wait %s: %w", argv[0], werr)
	}
	ru, _ := st.SysUsage().(*syscall.Rusage)
	var u Usage
	if ru != nil {
		u = Usage{
			MaxRSSKB: ru.Maxrss,
			UserSec:  float64(ru.Utime.Nano()) / 1e9,
			SysSec:   float64(ru.Stime.Nano()) / 1e9,
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
