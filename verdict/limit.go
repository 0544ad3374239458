package verdict

import (
	"fmt"

	"github.com/pipeloop/pipeloop/internal/label"
)

// judgeLimit names the rate limit as the bottleneck when it held a link
// back for most of the link's time (Sits): the pipeline runs at the pace
// that was asked for, and nothing else is worth naming. Of several
// limited links, the one held back longest.
func judgeLimit(in Input) (Verdict, bool) {
	best, share := -1, 0.0
	for i, l := range in.Links {
		if l.Wall < MinWall || l.RateLimit <= 0 {
			continue
		}
		if f := fraction(l.Limited, l.Wall); f >= Sits && f > share {
			best, share = i, f
		}
	}
	if best < 0 {
		return Verdict{}, false
	}
	l := in.Links[best]
	ev := []string{
		fmt.Sprintf("link %d: held back by the rate limit %s of the time, full %s, empty %s",
			best+1, pct(share), pct(fraction(l.Full, l.Wall)), pct(fraction(l.Empty, l.Wall))),
		relayEvidence(in.Relay),
	}
	name := "stdin → stdout"
	if len(in.Stages) > 0 {
		name = fmt.Sprintf("%d→%d", best+1, best+2)
	}
	return Verdict{Kind: KindLimit, Evidence: ev,
		Summary: fmt.Sprintf("the rate limit (%s/s on link %s): it held the link back %s of the time; the rest of the pipeline kept up",
			label.Bytes(float64(l.RateLimit)), name, pct(share))}, true
}
