package cmdline_test

import (
	"testing"

	"github.com/pipeloop/pipeloop/internal/cmdline"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"65536", 65536}, {"64K", 64 << 10}, {"64k", 64 << 10}, {"64KiB", 64 << 10},
		{"1M", 1 << 20}, {"1MiB", 1 << 20}, {"1m", 1 << 20}, {"1G", 1 << 30}, {"1GiB", 1 << 30},
		{"1000KB", 1000 * 1000}, {"2MB", 2e6}, {"1GB", 1e9}, {"512B", 512}, {"007K", 7 << 10},
		{"9223372036854775807", 1<<63 - 1}, {"8589934591G", 8589934591 << 30},
	} {
		got, err := cmdline.ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "K", "-1", "+1", "1.5M", "1 K", " 1K", "1KiBB", "1kB", "1iB", "0x10",
		"1_000", "9223372036854775808", "8589934592G", "1T"} {
		if got, err := cmdline.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}
