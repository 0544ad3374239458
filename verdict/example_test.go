package verdict_test

import (
	"fmt"
	"time"

	"github.com/pipeloop/pipeloop/verdict"
)

// A run of `pipeloop cat 'gzip -9' cat` on incompressible data: the pipe
// into gzip sat full, the pipe out of it sat empty, and gzip used most of
// a core.
func ExampleJudge() {
	ms := time.Millisecond
	v := verdict.Judge(verdict.Input{
		Wall: 1750 * ms,
		Links: []verdict.Link{
			{Bytes: 64 << 20, Wall: 1719 * ms, Full: 1678 * ms, Empty: 2 * ms},
			{Bytes: 64 << 20, Wall: 1745 * ms, Full: 0, Empty: 1740 * ms},
		},
		Stages: []verdict.Stage{
			{Index: 1, Name: "cat", Wall: 1697 * ms, CPU: 28 * ms},
			{Index: 2, Name: "gzip -9", Wall: 1746 * ms, CPU: 1566 * ms},
			{Index: 3, Name: "cat", Wall: 1746 * ms, CPU: 13 * ms},
		},
		Relay: verdict.Relay{Wall: 1750 * ms, CPU: 12 * ms},
	})
	fmt.Println(v)
	fmt.Println(v.Kind, v.Stage, v.Cause)
	// Output:
	// bottleneck: stage 2 (gzip -9): CPU-bound, 90% of one core; its input pipe sat full 98% and its output pipe empty 100% of the time
	// stage 2 cpu
}
