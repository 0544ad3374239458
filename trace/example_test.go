package trace_test

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/pipeloop/pipeloop/trace"
)

// exampleReport is what a dd | dd pipeline with a slow reader might give.
func exampleReport() trace.Report {
	hist := func(buckets map[int]uint64) []uint64 {
		h := make([]uint64, trace.HistBuckets)
		for i, c := range buckets {
			h[i] = c
		}
		return h
	}
	return trace.Report{
		Start: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Wall:  2 * time.Second,
		Records: []trace.Record{
			{Tgid: 101, Comm: "dd", Inode: 5001, Dir: trace.DirWrite, Count: 1500,
				Total: 1800 * time.Millisecond, Max: 3 * time.Millisecond, Hist: hist(map[int]uint64{19: 100, 20: 1400})},
			{Tgid: 102, Comm: "dd", Inode: 5001, Dir: trace.DirRead, Count: 20,
				Total: 40 * time.Microsecond, Max: 9 * time.Microsecond, Hist: hist(map[int]uint64{10: 12, 11: 7, 13: 1})},
			{Tgid: 102, Comm: "dd", Inode: 0, Dir: trace.DirPoll, Count: 1,
				Total: 250 * time.Millisecond, Max: 250 * time.Millisecond, Hist: hist(map[int]uint64{27: 1})},
			// A grep run by stage 3's shell; it waited before its exec, as "sh".
			{Tgid: 104, Comm: "sh", Inode: 5002, Dir: trace.DirRead, Count: 3,
				Total: 30 * time.Millisecond, Max: 20 * time.Millisecond, Hist: hist(map[int]uint64{23: 2, 24: 1})},
		},
		Procs: map[int]trace.ProcInfo{
			104: {Parent: 103, Comm: "grep", Start: 100 * time.Millisecond, Exit: 1900 * time.Millisecond, Exited: true},
		},
	}
}

func ExampleReport_WriteTable() {
	names := map[int]string{101: "stage 1 (dd)", 102: "stage 2 (dd)", 103: "stage 3 (sh)"}
	exampleReport().WriteTable(os.Stdout, names)
	// Output:
	// pipe stalls over 2.00s of wall time; nothing dropped
	// PID  PROCESS              TRACED LIFE  BLOCKED  TIME    %LIFE  RUNNABLE  WAITS  MAX
	// 101  stage 1 (dd)         -            writing  1.80s   90.0%  0s        1500   3.00ms
	// 102  stage 2 (dd)         -            reading  40.0µs  0.0%   0s        20     9.00µs
	// 102                                    in poll  250ms   12.5%  0s        1      250ms
	// 103  stage 3 (sh)         -            never    0s      0.0%   0s        0      -
	// 104  stage 3 (sh) › grep  100ms–1.90s  reading  30.0ms  1.7%   0s        3      20.0ms
	//
	// PID  PROCESS              PIPE         BLOCKED  WAITS  WAIT TIME HISTOGRAM (log2 buckets)
	// 101  stage 1 (dd)         pipe:[5001]  writing  1500   524µs ▁█ 2.10ms
	// 102  stage 2 (dd)         pipe:[5001]  reading  20     1.02µs █▅ ▁ 16.4µs
	// 102                       -            in poll  1      134ms █ 268ms
	// 104  stage 3 (sh) › grep  pipe:[5002]  reading  3      8.39ms █▄ 33.6ms
}

func ExampleReport_JSON() {
	r := exampleReport()
	r.Records = r.Records[:1]
	out, _ := json.Marshal(r.JSON(map[int]string{101: "stage 1 (dd)"}))
	fmt.Println(string(out))
	// Output:
	// {"schema":"pipeloop-trace","schema_version":2,"start":"2025-01-02T03:04:05Z","wall_ns":2000000000,"processes":[{"tgid":101,"comm":"dd","label":"stage 1 (dd)","parent":0,"stage":101,"start_ns":0,"exit_ns":0,"exited":false,"life_ns":0,"blocked_writing":{"count":1500,"at_attach":0,"total_ns":1800000000,"runnable_ns":0,"max_ns":3000000,"wall_fraction":0.9,"life_fraction":0.9},"blocked_reading":{"count":0,"at_attach":0,"total_ns":0,"runnable_ns":0,"max_ns":0,"wall_fraction":0,"life_fraction":0},"in_poll":{"count":0,"at_attach":0,"total_ns":0,"runnable_ns":0,"max_ns":0,"wall_fraction":0,"life_fraction":0},"pipes":[{"inode":5001,"direction":"write","count":1500,"at_attach":0,"total_ns":1800000000,"runnable_ns":0,"max_ns":3000000,"hist_log2_ns":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,100,1400]}]}],"dropped":{"waits":0,"children":0,"storage":0,"procs":0,"attach":0},"max_records":0,"max_processes":0}
}
