//go:build linux

package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pipeloop/pipeloop/relay"
)

// writeLines prints --stats's line counts, with --lines: per link the
// lines delivered and their rate. Nothing without --lines.
func writeLines(w io.Writer, links []relay.LinkStats) {
	if len(links) == 0 || !links[0].CountsLines {
		return
	}
	fmt.Fprintln(w, "pipeloop: lines")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "link\tlines\trate\t")
	for i, s := range links {
		fmt.Fprintf(tw, "%d\t%d\t%s/s\t\n", i+1, s.Lines, count(rate(s.Lines, s.Wall())))
	}
	tw.Flush()
}

// linesText is --progress's reading of a link's lines: the count and the
// rate over dt.
func linesText(lines, was uint64, dt time.Duration) string {
	return fmt.Sprintf("%s lines %s/s", count(float64(lines)), count(rate(lines-was, dt)))
}

// count formats a count to three significant digits: 950, 12.3k, 4.56M.
func count(n float64) string {
	return strings.TrimSuffix(compact(n), "B")
}
