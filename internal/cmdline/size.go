package cmdline

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// units maps suffixes to multipliers: binary for K/M/G (as dd, pv and
// mbuffer read them) and their IEC spellings, decimal for KB/MB/GB.
var units = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"B", 1},
}

// ParseSize parses a byte count: 65536, 64K, 64k, 64KiB, 1M, 1MiB, 1G,
// 1000KB. It rejects empty, negative, fractional and overflowing input.
func ParseSize(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	if num == "" || num[0] < '0' || num[0] > '9' {
		return 0, fmt.Errorf("bad size %q (want a number with an optional K, M or G suffix, e.g. 64K)", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q (want a number with an optional K, M or G suffix, e.g. 64K)", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}
