package report

import "testing"

func TestParseCPUTimes(t *testing.T) {
	for _, tc := range []struct {
		line        string
		total, idle uint64
		ok          bool
	}{
		{"cpu  100 5 50 800 20 3 2 10 7 0\n", 990, 820, true}, // guest is already in user
		{"cpu  1 2 3 4\n", 10, 4, true},                       // old kernels: no iowait
		{"cpu0 1 2 3 4 5\n", 0, 0, false},
		{"cpu  1 x 3 4 5\n", 0, 0, false},
	} {
		got, err := parseCPUTimes(tc.line)
		if (err == nil) != tc.ok || got.Total != tc.total || got.Idle != tc.idle {
			t.Errorf("parseCPUTimes(%q) = %+v, %v; want total %d idle %d ok %v", tc.line, got, err, tc.total, tc.idle, tc.ok)
		}
	}
	if got := busy(CPUTimes{Total: 1000, Idle: 500}, CPUTimes{Total: 1200, Idle: 550}); got != 0.75 {
		t.Errorf("busy = %v, want 0.75", got)
	}
	if got := busy(CPUTimes{}, CPUTimes{}); got != 0 {
		t.Errorf("busy of nothing = %v, want 0", got)
	}
	if _, err := ReadCPUTimes(); err != nil {
		t.Errorf("ReadCPUTimes: %v", err)
	}
}
