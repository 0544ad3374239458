//go:build linux

package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// terminal is what pipeloop knows of its controlling terminal.
type terminal struct {
	attached bool // pipeloop has a controlling terminal
}

// controllingTerminal looks pipeloop's controlling terminal up in
// /proc/self/stat (tty_nr is 0 without one).
func controllingTerminal() terminal {
	st, ok := selfStat()
	return terminal{attached: ok && st.ttyNr != 0}
}

// foreground reports whether pipeloop's process group is the terminal's
// foreground group, the one the terminal's ^C and ^\ signal.
func (t terminal) foreground() bool {
	st, ok := selfStat()
	return t.attached && ok && st.pgrp == st.tpgid
}

// procStat holds the fields of /proc/self/stat pipeloop uses.
type procStat struct{ pgrp, ttyNr, tpgid int }

func selfStat() (procStat, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return procStat{}, false
	}
	// pid (comm) state ppid pgrp session tty_nr tpgid ...; comm may hold
	// spaces and parentheses, so count from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 6 {
		return procStat{}, false
	}
	var st procStat
	var e1, e2, e3 error
	st.pgrp, e1 = strconv.Atoi(f[2])
	st.ttyNr, e2 = strconv.Atoi(f[4])
	st.tpgid, e3 = strconv.Atoi(f[5])
	return st, e1 == nil && e2 == nil && e3 == nil
}

// ownGroups decides where a pipeline's stages run: in process groups of
// their own, or in pipeloop's.
//
// A signal for the whole pipeline must reach the stages' own children too
// (`sh -c 'sleep 15; echo x'` must not leave the sleep behind), and a
// process group is the one thing kill(2) reaches at once with no race
// against a fork. But a terminal's job control works on process groups
// too: the terminal sends ^C, ^Z and ^\ to its foreground group only, a
// process outside that group that reads the terminal gets SIGTTIN and
// stops, and only the foreground group may change the terminal's modes.
// The shell made pipeloop's group the job's and manages it (fg, bg,
// ^Z); stages in other groups would fall out of the job. Handing the
// terminal to the stages' group with tcsetpgrp is no way out: pipeloop's
// group may hold other processes of the same shell pipeline
// (`pipeloop A B | less`), which would lose the terminal, and pipeloop
// would have to re-implement a job-control shell (stops, fg, bg) for it.
//
// So, like coreutils' timeout and its --foreground:
//   - With a controlling terminal, the stages stay in pipeloop's group, as
//     members of the shell's job: the terminal's signals reach every
//     stage and every child of theirs at once, stage 1 can read the
//     terminal, and ^Z, fg and bg work. Signals sent to pipeloop alone
//     are passed on to the stages and to the descendants /proc lists for
//     them (relay's SignalDescendants: best effort, where a group would
//     be exact); ^C and ^\ are not passed on while pipeloop is in the
//     foreground, since the terminal has already sent them to the whole
//     group, and a stage that handles SIGINT must see one ^C once.
//   - Without one (a service, cron, CI, ssh without -t, a container),
//     there is no job control to keep, and every stage leads a process
//     group of its own that pipeloop signals as a whole.
func ownGroups(t terminal) bool { return !t.attached }
