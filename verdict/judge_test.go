package verdict_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/verdict"
)

const ms = time.Millisecond

// link builds a Link that ran wall ms, full and empty ms of it.
func link(bytes uint64, wall, full, empty time.Duration) verdict.Link {
	return verdict.Link{Bytes: bytes, Wall: wall * ms, Full: full * ms, Empty: empty * ms}
}

func stage(i int, name string, wall, cpu time.Duration) verdict.Stage {
	return verdict.Stage{Index: i, Name: name, Wall: wall * ms, CPU: cpu * ms}
}

func traced(s verdict.Stage, read, write time.Duration) verdict.Stage {
	s.Stalls = &verdict.Stalls{Read: read * ms, Write: write * ms}
	return s
}

func relay(wall, cpu time.Duration) verdict.Relay {
	return verdict.Relay{Wall: wall * ms, CPU: cpu * ms}
}

// The recorded cases are readings of real runs (pipeloop --stats-json on
// a 2-vCPU Linux 6.18 machine), rounded to the millisecond; the others
// are made up to reach the corners.
func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    verdict.Input
		kind  verdict.Kind
		stage int
		cause verdict.Cause
		says  []string // substrings of the summary
	}{
		{
			name: "too short",
			in:   verdict.Input{Wall: 12 * ms, Links: []verdict.Link{link(6, 11, 0, 10)}, Relay: relay(12, 3)},
			kind: verdict.KindUnknown, says: []string{"too short", "12ms"},
		},
		{
			// recorded: sh -c 'for i in $(seq 20); do head -c 65536 /dev/zero; sleep 0.05; done' | pipeloop | cat
			name: "stdin: slow writer",
			in:   verdict.Input{Wall: 1090 * ms, Links: []verdict.Link{link(1310720, 1088, 0, 1080)}, Relay: relay(1090, 9)},
			kind: verdict.KindUpstream, says: []string{"upstream (stdin)", "empty 99%"},
		},
		{
			// recorded: head -c 8M /dev/zero | pipeloop | sh -c 'while [ "$(head -c 262144 | wc -c)" -gt 0 ]; do sleep 0.05; done'
			name: "stdin: slow reader",
			in:   verdict.Input{Wall: 1402 * ms, Links: []verdict.Link{link(8388608, 1400, 1341, 51)}, Relay: relay(1402, 20)},
			kind: verdict.KindDownstream, says: []string{"downstream (stdout)", "full 96%"},
		},
		{
			name: "stdin: the relay is the limit",
			in:   verdict.Input{Wall: 2000 * ms, Links: []verdict.Link{link(1<<32, 2000, 100, 60)}, Relay: relay(2000, 1940)},
			kind: verdict.KindRelay, cause: verdict.CauseCPU, says: []string{"pipeloop itself", "97% of one core"},
		},
		{
			// --busy-poll spins the loop thread while the link waits:
			// the link's evidence wins over the CPU reading.
			name: "stdin: busy-poll does not make the relay the limit",
			in:   verdict.Input{Wall: 2000 * ms, Links: []verdict.Link{link(1<<20, 2000, 0, 1950)}, Relay: relay(2000, 1990)},
			kind: verdict.KindUpstream,
		},
		{
			name: "stdin: balanced",
			in:   verdict.Input{Wall: 2000 * ms, Links: []verdict.Link{link(1<<30, 2000, 900, 960)}, Relay: relay(2000, 100)},
			kind: verdict.KindNone, says: []string{"no clear bottleneck", "full 45%", "empty 48%"},
		},
		{
			// recorded: dd bs=1M | pipeloop --mode copy --buffer 8K | dd bs=1M
			// on a machine busy with other work
			name: "stdin: saturated machine",
			in: verdict.Input{Wall: 3440 * ms, Links: []verdict.Link{link(3<<30, 3435, 0, 790)},
				Relay: relay(3440, 860), MachineBusy: 0.98},
			kind: verdict.KindNone, says: []string{"no clear bottleneck", "empty 23%", "CPUs were 98% busy", "waiting for a CPU"},
		},
		{
			// recorded: pipeloop cat 'gzip -9' cat < 24 MiB of random bytes
			name: "pipeline: CPU-bound middle stage",
			in: verdict.Input{
				Wall:   723 * ms,
				Links:  []verdict.Link{link(25165824, 690, 669, 1), link(25165824, 710, 0, 696)},
				Stages: []verdict.Stage{stage(1, "cat", 668, 13), stage(2, "gzip -9", 718, 593), stage(3, "cat", 714, 6)},
				Relay:  relay(723, 30),
			},
			kind: verdict.KindStage, stage: 2, cause: verdict.CauseCPU,
			says: []string{"stage 2 (gzip -9): CPU-bound, 83% of one core", "input pipe sat full 97% and its output pipe empty 98% of the time"},
		},
		{
			// recorded: pipeloop "sh -c 'for i in $(seq 40); do head -c 65536 /dev/zero; sleep 0.05; done'" cat cat
			name: "pipeline: slow producer",
			in: verdict.Input{
				Wall:   2175 * ms,
				Links:  []verdict.Link{link(2621440, 2168, 0, 2168), link(2621440, 2167, 0, 2166)},
				Stages: []verdict.Stage{stage(1, "sh -c 'for i in $(seq 40); do head -c 65536 /dev/zero; sleep 0.05; done'", 2170, 85), stage(2, "cat", 2169, 3), stage(3, "cat", 2167, 2)},
				Relay:  relay(2175, 15),
			},
			kind: verdict.KindStage, stage: 1, cause: verdict.CauseOther,
			says: []string{"stage 1 (sh -c", "not CPU-bound (4% of one core)", "its input", "output pipe sat empty 100%"},
		},
		{
			// recorded: pipeloop 'head -c 4M /dev/zero' "sh -c 'while [ \"$(head -c 131072 | wc -c)\" -gt 0 ]; do sleep 0.05; done'"
			name: "pipeline: slow consumer",
			in: verdict.Input{
				Wall:   1750 * ms,
				Links:  []verdict.Link{link(4194304, 1745, 1658, 70)},
				Stages: []verdict.Stage{stage(1, "head -c 4M /dev/zero", 827, 4), stage(2, "sh -c 'while ...'", 1746, 120)},
				Relay:  relay(1750, 25),
			},
			kind: verdict.KindStage, stage: 2, cause: verdict.CauseOther,
			says: []string{"stage 2", "not CPU-bound (7% of one core)", "its output", "input pipe sat full 95%"},
		},
		{
			// The limit moves: a trickling producer for a second, then a
			// consumer that sleeps for a second.
			name: "pipeline: limit moves halfway",
			in: verdict.Input{
				Wall:   2050 * ms,
				Links:  []verdict.Link{link(10<<20, 2040, 960, 1030)},
				Stages: []verdict.Stage{stage(1, "producer", 1010, 30), stage(2, "consumer", 2045, 15)},
				Relay:  relay(2050, 20),
			},
			kind: verdict.KindNone, says: []string{"no clear bottleneck", "link 1 sat full 47% and empty 50%", "no stage used more than 3%"},
		},
		{
			name: "pipeline: two stages share the limit",
			in: verdict.Input{
				Wall:   3000 * ms,
				Links:  []verdict.Link{link(1<<30, 3000, 1200, 1300)},
				Stages: []verdict.Stage{stage(1, "sha256sum-ish", 3000, 2900), stage(2, "gzip -1", 3000, 2850)},
				Relay:  relay(3000, 150),
			},
			kind: verdict.KindNone, says: []string{"no single bottleneck", "stage 1 (sha256sum-ish) and stage 2 (gzip -1)"},
		},
		{
			name: "pipeline: links disagree",
			in: verdict.Input{
				Wall:   3000 * ms,
				Links:  []verdict.Link{link(1<<30, 3000, 2800, 0), link(1<<30, 3000, 1000, 1000), link(1<<30, 3000, 2700, 100)},
				Stages: []verdict.Stage{stage(1, "a", 3000, 100), stage(2, "b", 3000, 300), stage(3, "c", 3000, 100), stage(4, "d", 3000, 200)},
				Relay:  relay(3000, 150),
			},
			kind: verdict.KindNone, says: []string{"no single bottleneck", "stage 2 (b) and stage 4 (d)"},
		},
		{
			name: "pipeline: one CPU-bound stage, no links",
			in: verdict.Input{
				Wall:   1500 * ms,
				Stages: []verdict.Stage{stage(1, "xz -9", 1500, 1470)},
				Relay:  relay(1500, 2),
			},
			kind: verdict.KindStage, stage: 1, cause: verdict.CauseCPU, says: []string{"CPU-bound, 98% of one core"},
		},
		{
			name: "pipeline: one idle stage, no links",
			in: verdict.Input{
				Wall:   1500 * ms,
				Stages: []verdict.Stage{stage(1, "sleep 1.5", 1500, 1)},
				Relay:  relay(1500, 1),
			},
			kind: verdict.KindUnknown, says: []string{"not enough evidence", "sleep 1.5"},
		},
		{
			name: "pipeline: half computing",
			in: verdict.Input{
				Wall:   2000 * ms,
				Links:  []verdict.Link{link(1<<28, 2000, 1800, 50)},
				Stages: []verdict.Stage{stage(1, "cat", 2000, 40), stage(2, "grep -c x", 2000, 1000)},
				Relay:  relay(2000, 60),
			},
			kind: verdict.KindStage, stage: 2, cause: verdict.CauseMixed, says: []string{"50% of one core"},
		},
		{
			// recorded under two `yes > /dev/null` hogs on 2 CPUs
			name: "pipeline: CPU-bound stage on a saturated machine",
			in: verdict.Input{
				Wall:        5120 * ms,
				Links:       []verdict.Link{link(33554432, 5100, 4950, 40), link(33554432, 5110, 10, 5020)},
				Stages:      []verdict.Stage{stage(1, "cat", 5000, 30), stage(2, "gzip -9", 5110, 1020), stage(3, "cat", 5110, 20)},
				Relay:       verdict.Relay{Wall: 5120 * ms, CPU: 60 * ms},
				MachineBusy: 0.99,
			},
			kind: verdict.KindStage, stage: 2, cause: verdict.CauseContended,
			says: []string{"20% of one core, but the machine's CPUs were 99% busy", "may have been waiting for a CPU"},
		},
		{
			name: "pipeline: the relay is the limit",
			in: verdict.Input{
				Wall:   2000 * ms,
				Links:  []verdict.Link{link(1<<32, 2000, 300, 200)},
				Stages: []verdict.Stage{stage(1, "cat", 2000, 600), stage(2, "cat", 2000, 500)},
				Relay:  relay(2000, 1900),
			},
			kind: verdict.KindRelay, cause: verdict.CauseCPU, says: []string{"pipeloop itself", "95% of one core"},
		},
		{
			name: "traced: stage 1 waits on pipeloop's stdin",
			in: verdict.Input{
				Wall:   2000 * ms,
				Links:  []verdict.Link{link(1<<20, 2000, 0, 1950)},
				Stages: []verdict.Stage{traced(stage(1, "cat", 2000, 10), 1900, 0), traced(stage(2, "cat", 2000, 10), 1950, 0)},
				Relay:  relay(2000, 10),
			},
			kind: verdict.KindUpstream, says: []string{"upstream (stdin)", "stage 1 was blocked reading its input 95%"},
		},
		{
			name: "traced: last stage waits on pipeloop's stdout",
			in: verdict.Input{
				Wall:   2000 * ms,
				Links:  []verdict.Link{link(1<<20, 2000, 1900, 0)},
				Stages: []verdict.Stage{traced(stage(1, "cat", 2000, 10), 0, 1900), traced(stage(2, "cat", 2000, 10), 0, 1920)},
				Relay:  relay(2000, 10),
			},
			kind: verdict.KindDownstream, says: []string{"downstream (stdout)", "stage 2 was blocked writing its output 96%"},
		},
		{
			name: "traced: off-CPU stage not blocked on pipes",
			in: verdict.Input{
				Wall:   2000 * ms,
				Links:  []verdict.Link{link(1<<20, 2000, 1900, 0)},
				Stages: []verdict.Stage{traced(stage(1, "cat", 2000, 10), 0, 1900), traced(stage(2, "slow", 2000, 10), 40, 0)},
				Relay:  relay(2000, 10),
			},
			kind: verdict.KindStage, stage: 2, cause: verdict.CauseOther, says: []string{"blocked on pipes 2% of the time"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := verdict.Judge(tc.in)
			t.Log(got)
			if got.Kind != tc.kind || got.Stage != tc.stage || got.Cause != tc.cause {
				t.Errorf("got kind %q stage %d cause %q, want %q %d %q", got.Kind, got.Stage, got.Cause, tc.kind, tc.stage, tc.cause)
			}
			for _, s := range tc.says {
				if !strings.Contains(got.Summary, s) {
					t.Errorf("summary %q does not say %q", got.Summary, s)
				}
			}
			if strings.Contains(got.Summary, "\n") {
				t.Errorf("summary is not one line: %q", got.Summary)
			}
			if got.Evidence == nil {
				t.Error("Evidence is nil; want an empty list at least (it is a JSON array)")
			}
			if got.Kind == verdict.KindStage && got.Name != tc.in.Stages[got.Stage-1].Name {
				t.Errorf("Name %q, want the stage's command %q", got.Name, tc.in.Stages[got.Stage-1].Name)
			}
		})
	}
}

// With traced runnable time, a stage's evidence says how much of its
// blocked time it was woken and waiting for a CPU.
func TestEvidenceRunnable(t *testing.T) {
	s1 := traced(stage(1, "cat", 2000, 10), 0, 1900)
	s2 := traced(stage(2, "slow", 2000, 10), 1000, 0)
	s2.Stalls.Runnable = 600 * ms
	v := verdict.Judge(verdict.Input{
		Wall:   2000 * ms,
		Links:  []verdict.Link{link(1<<20, 2000, 1900, 0)},
		Stages: []verdict.Stage{s1, s2},
		Relay:  relay(2000, 10),
	})
	ev := strings.Join(v.Evidence, "\n")
	if !strings.Contains(ev, "stage 2 was runnable but waiting for a CPU 30% of the time") {
		t.Errorf("evidence does not give stage 2's CPU wait:\n%s", ev)
	}
	if strings.Contains(ev, "stage 1 was runnable") {
		t.Errorf("evidence gives a CPU wait stage 1 did not have:\n%s", ev)
	}
}
