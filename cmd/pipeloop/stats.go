//go:build linux

package main

import (
	"github.com/pipeloop/pipeloop/internal/label"

	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/relay"
	"github.com/pipeloop/pipeloop/report"
)

// writeStats prints the --stats report.
func writeStats(w io.Writer, links []relay.LinkStats, stages []*relay.StageResult, ls loop.Stats) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if len(links) > 0 {
		fmt.Fprintln(w, "pipeloop: links")
		fmt.Fprintln(tw, "link\tfrom\tto\tmode\tbytes\trate\treads\twrites\tsplices\tvmsplices\tEAGAIN\tfull\tempty\tend\t")
		for i, s := range links {
			wall := s.Wall()
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s/s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t\n",
				i+1, s.Src, s.Dst, modeLabel(s), label.Bytes(float64(s.Bytes)), label.Bytes(rate(s.Bytes, wall)),
				s.Reads, s.Writes, s.Splices, s.Vmsplices, s.ReadEAGAIN+s.WriteEAGAIN+s.SpliceEAGAIN,
				pct(s.TimeFull, wall), pct(s.TimeEmpty, wall), linkEnd(s))
		}
		tw.Flush()
		writeLines(w, links)
	}
	if len(stages) > 0 {
		fmt.Fprintln(w, "pipeloop: stages")
		fmt.Fprintln(tw, "stage\tcommand\tpid\tstatus\twall\tuser\tsys\tmax RSS\t")
		for _, st := range stages {
			var user, sys time.Duration
			var rss int64
			if st.State != nil {
				user = time.Duration(st.State.Rusage.Utime.Nano())
				sys = time.Duration(st.State.Rusage.Stime.Nano())
				rss = int64(st.State.Rusage.Maxrss) * 1024 // int32 on 32-bit GOARCHes
			}
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", st.Index, trim(st.Name, 32), st.Pid, status(st),
				secs(st.Wall()), secs(user), secs(sys), label.Bytes(float64(rss)))
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "pipeloop: loop: %d epoll_wait (%d could sleep), %d events, %d wake-ups, %d reaped\n",
		ls.Waits, ls.Sleeps, ls.Events, ls.Wakeups, ls.Reaped)
}

// modeLabel is a link's data path for the table: its mode, "+uring" when
// small messages went through io_uring (--uring).
func modeLabel(s relay.LinkStats) string {
	if s.URingBytes > 0 {
		return s.Mode.String() + "+uring"
	}
	return s.Mode.String()
}

func status(st *relay.StageResult) string {
	switch {
	case st.StartErr != nil:
		return fmt.Sprintf("%d (not started)", st.StartErr.Code)
	case st.State == nil:
		return "running"
	case st.KilledBy() != 0:
		return fmt.Sprintf("%d (%v)", st.ExitCode(), st.KilledBy())
	}
	return fmt.Sprint(st.ExitCode())
}

// linkEnd is report.LinkEnd in words: "reader left" for "reader_left".
func linkEnd(s relay.LinkStats) string {
	return strings.ReplaceAll(report.LinkEnd(s), "_", " ")
}

func rate(b uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(b) / d.Seconds()
}

func pct(part, whole time.Duration) string {
	if whole <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*part.Seconds()/whole.Seconds())
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

func trim(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}
