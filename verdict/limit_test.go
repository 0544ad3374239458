package verdict_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/verdict"
)

// TestJudgeLimit: a link the rate limit held back most of the time makes
// the limit the verdict, in stdin mode and in a pipeline; a limit that
// rarely held the link back leaves the verdict to the other evidence.
func TestJudgeLimit(t *testing.T) {
	limited := func(l verdict.Link, heldMS int) verdict.Link {
		l.Limited, l.RateLimit = ms*time.Duration(heldMS), 2<<20
		return l
	}
	for _, tc := range []struct {
		name string
		in   verdict.Input
		kind verdict.Kind
		says []string
	}{
		{"stdin", verdict.Input{Wall: 4000 * ms, Links: []verdict.Link{limited(link(8<<20, 4000, 0, 10), 3900)}, Relay: relay(4000, 20)},
			verdict.KindLimit, []string{"the rate limit (2.10 MB/s on link stdin → stdout)", "98%"}},
		{"pipeline", verdict.Input{Wall: 4000 * ms, Links: []verdict.Link{link(8<<20, 4000, 3900, 0), limited(link(8<<20, 4000, 0, 10), 3800)},
			Stages: []verdict.Stage{{Index: 1, Name: "cat", Wall: 4000 * ms}, {Index: 2, Name: "cat", Wall: 4000 * ms}, {Index: 3, Name: "cat", Wall: 4000 * ms}},
			Relay:  relay(4000, 20)},
			verdict.KindLimit, []string{"on link 2→3", "95%"}},
		{"limit rarely reached", verdict.Input{Wall: 4000 * ms, Links: []verdict.Link{limited(link(8<<20, 4000, 3900, 0), 50)}, Relay: relay(4000, 20)},
			verdict.KindDownstream, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := verdict.Judge(tc.in)
			if v.Kind != tc.kind {
				t.Fatalf("kind %q, want %q: %s", v.Kind, tc.kind, v.Summary)
			}
			for _, s := range tc.says {
				if !strings.Contains(v.Summary, s) {
					t.Errorf("summary %q does not say %q", v.Summary, s)
				}
			}
		})
	}
}
