package report

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// CPUTimes are the machine's CPU times from the "cpu" line of /proc/stat,
// in clock ticks summed over all CPUs.
type CPUTimes struct {
	Total uint64 // every state
	Idle  uint64 // idle and iowait
}

// ReadCPUTimes reads /proc/stat.
func ReadCPUTimes() (CPUTimes, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return CPUTimes{}, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return CPUTimes{}, fmt.Errorf("/proc/stat: %w", err)
	}
	return parseCPUTimes(line)
}

// parseCPUTimes parses "cpu  user nice system idle iowait irq softirq
// steal guest guest_nice". Guest time is already counted in user and nice.
func parseCPUTimes(line string) (CPUTimes, error) {
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return CPUTimes{}, errors.New("/proc/stat: no cpu line")
	}
	var t CPUTimes
	for i, s := range f[1:min(len(f), 9)] { // up to steal
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return CPUTimes{}, fmt.Errorf("/proc/stat: %w", err)
		}
		t.Total += n
		if i == 3 || i == 4 { // idle, iowait
			t.Idle += n
		}
	}
	return t, nil
}

// busy is the share of the machine's CPU time that was not idle between a
// and b; 0 when unknown.
func busy(a, b CPUTimes) float64 {
	if b.Total <= a.Total || b.Idle < a.Idle {
		return 0
	}
	total := b.Total - a.Total
	return 1 - float64(b.Idle-a.Idle)/float64(total)
}

func cpus() int { return runtime.NumCPU() }
