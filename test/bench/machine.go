package bench

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Machine describes where the benchmark ran.
type Machine struct {
	CPUModel  string            `json:"cpu_model"`
	NumCPU    int               `json:"nproc"`
	Kernel    string            `json:"kernel"`
	GoVersion string            `json:"go_version"`
	Tools     map[string]string `json:"tools"` // first line of each tool's version output
	LoadStart string            `json:"loadavg_start"`
	LoadEnd   string            `json:"loadavg_end"`
	Commit    string            `json:"commit,omitempty"` // git HEAD of the working tree
}

func probeMachine(ctx context.Context, t *Tools) Machine {
	m := Machine{
		CPUModel:  cpuModel(),
		NumCPU:    runtime.NumCPU(),
		Kernel:    readTrim("/proc/sys/kernel/osrelease"),
		GoVersion: runtime.Version(),
		LoadStart: readTrim("/proc/loadavg"),
		Tools:     map[string]string{},
	}
	m.Commit = versionLine(ctx, "", "git", "rev-parse", "--short", "HEAD")
	probes := []struct {
		name, path, flag, match string
	}{
		{"dd", "dd", "--version", ""},
		{"python3", t.Python, "--version", ""},
		{"pv", "pv", "--version", ""},
		{"socat", "socat", "-V", "socat version"},
		{"mbuffer", "mbuffer", "--version", ""},
		{"taskset", t.Taskset, "--version", ""},
		{"pipeloop", t.Pipeloop, "--version", ""},
	}
	for _, p := range probes {
		if p.path == "" || lookPath(p.path) == "" {
			continue
		}
		if v := versionLine(ctx, p.match, p.path, p.flag); v != "" {
			m.Tools[p.name] = v
		}
	}
	return m
}

// versionLine runs a command briefly and returns the first line of its
// output that contains match (the first non-empty line when match is "").
func versionLine(ctx context.Context, match, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, name, args...).CombinedOutput()
	for line := range strings.Lines(string(out)) {
		if line = strings.TrimSpace(line); line != "" && strings.Contains(line, match) {
			return line
		}
	}
	return ""
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
