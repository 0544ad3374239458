//go:build linux

package trace

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ProcInfo is what the tracer knows of a watched process's life. Times
// are offsets from Report.Start.
type ProcInfo struct {
	Parent int    // tgid that forked it while watched; 0 for a process given to Watch
	Comm   string // name after its latest exec (or at fork, if it never exec'd)
	// Start is when it was forked, or for a process given to Watch, when
	// it was watched: the traced part of its life begins there.
	Start  time.Duration
	Exit   time.Duration // when its last thread exited; meaningful if Exited
	Exited bool
}

// Life returns the traced part of process tgid's life: from its Start to
// its exit, or to the snapshot if it still runs. Without ProcInfo it is
// the report's wall time.
func (r Report) Life(tgid int) time.Duration {
	pi, ok := r.Procs[tgid]
	if !ok {
		return r.Wall
	}
	end := r.Wall
	if pi.Exited {
		end = pi.Exit
	}
	return max(end-pi.Start, 0)
}

// Stage returns the nearest of tgid and its watched ancestors that names
// labels, and whether there is one. names is as for WriteTable.
func (r Report) Stage(tgid int, names map[int]string) (int, bool) {
	for range len(r.Procs) + 1 { // a pid-reuse cycle cannot loop forever
		if _, ok := names[tgid]; ok {
			return tgid, true
		}
		pi, ok := r.Procs[tgid]
		if !ok || pi.Parent == 0 {
			return 0, false
		}
		tgid = pi.Parent
	}
	return 0, false
}

// name returns the best name of process tgid: its name after its latest
// exec if known, else the one its records carry.
func (r Report) name(tgid int, comm string) string {
	if pi, ok := r.Procs[tgid]; ok && pi.Comm != "" {
		return pi.Comm
	}
	return comm
}

// labelOf returns the table label of a process: its names label, or
// "STAGE › comm" for a descendant of a labelled process, or its name.
// fit is applied to each part: safeLabel for the table, nothing for JSON.
func (r Report) labelOf(tgid int, comm string, names map[int]string, fit func(string) string) string {
	if l, ok := names[tgid]; ok && l != "" {
		return fit(l)
	}
	comm = fit(r.name(tgid, comm))
	if comm == "" {
		comm = "?"
	}
	if s, ok := r.Stage(tgid, names); ok && names[s] != "" {
		return fit(names[s]) + " › " + comm
	}
	return comm
}

// maxLabel is the widest label the table prints, in runes: a long
// command must not widen every row.
const maxLabel = 40

// safeLabel escapes control characters and invalid UTF-8 as Go does in
// a quoted string (a newline becomes \n, ESC \x1b), so a label never
// splits a row or drives the terminal, and cuts it to maxLabel runes,
// ending in "…".
func safeLabel(s string) string {
	var b strings.Builder
	n := 0
	for i, c := range s {
		e := string(c)
		if c == utf8.RuneError || unicode.IsControl(c) {
			if c == utf8.RuneError {
				e = fmt.Sprintf(`\x%02x`, s[i]) // invalid byte (or a literal U+FFFD)
			} else {
				q := strconv.QuoteRune(c)
				e = q[1 : len(q)-1]
			}
		}
		w := utf8.RuneCountInString(e)
		if n+w > maxLabel-1 && i+len(string(c)) < len(s) {
			b.WriteString("…")
			return b.String()
		}
		b.WriteString(e)
		n += w
	}
	return b.String()
}

// grouped orders procs so that each labelled process is followed by its
// descendants (by tgid), the rest by tgid.
func (r Report) grouped(procs []Process, names map[int]string) []Process {
	key := func(p Process) (int, int) {
		if s, ok := r.Stage(p.Tgid, names); ok {
			if s == p.Tgid {
				return s, 0
			}
			return s, 1
		}
		return p.Tgid, 0
	}
	slices.SortStableFunc(procs, func(a, b Process) int {
		ga, da := key(a)
		gb, db := key(b)
		return cmp.Or(cmp.Compare(ga, gb), cmp.Compare(da, db), cmp.Compare(a.Tgid, b.Tgid))
	})
	return procs
}
