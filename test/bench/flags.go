package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize parses a byte count such as 4096, 4K, 64K, 1M or 1G (binary
// multiples, an optional trailing B or iB).
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad size %q (want e.g. 4096, 64K, 1G)", s)
	}
	return v * mult, nil
}

// ParseSizes parses a comma-separated list of sizes.
func ParseSizes(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		v, err := ParseSize(f)
		if err != nil {
			return nil, err
		}
		out = append(out, int(v))
	}
	return out, nil
}

// ParsePins parses "unpinned,pinned" (either or both, in that order or not).
func ParsePins(s string) ([]bool, error) {
	var out []bool
	for f := range strings.SplitSeq(s, ",") {
		switch strings.TrimSpace(f) {
		case "unpinned":
			out = append(out, false)
		case "pinned":
			out = append(out, true)
		case "":
		default:
			return nil, fmt.Errorf("bad pin mode %q (want unpinned, pinned)", f)
		}
	}
	return out, nil
}

// SplitList splits a comma-separated list, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
