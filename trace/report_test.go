package trace_test

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pipeloop/pipeloop/trace"
)

func TestByProcess(t *testing.T) {
	r := exampleReport()
	r.Records = append(r.Records, trace.Record{Tgid: 101, Comm: "dd", Inode: 5002, Dir: trace.DirWrite,
		Count: 2, Total: 200 * time.Millisecond, Max: 150 * time.Millisecond})
	got := r.ByProcess()
	if len(got) != 3 {
		t.Fatalf("got %d processes, want 3", len(got))
	}
	want := trace.Stall{Count: 1502, Total: 2 * time.Second, Max: 150 * time.Millisecond}
	if got[0].Tgid != 101 || got[0].Write != want || len(got[0].Pipes) != 2 {
		t.Errorf("process 101 = %+v, want write %+v over 2 pipes", got[0], want)
	}
	if p := r.Process(102); p.Poll.Total != 250*time.Millisecond || p.Read.Count != 20 || p.Of(trace.DirPoll) != p.Poll {
		t.Errorf("process 102 = %+v", p)
	}
	if p := r.Process(999); p.Tgid != 999 || len(p.Pipes) != 0 {
		t.Errorf("unknown process = %+v, want zero", p)
	}
}

func TestFmtDur(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{812, "812ns"},
		{1500, "1.50µs"},
		{12_345_678, "12.3ms"},
		{123_456_789, "123ms"},
		{2_104_000_000, "2.10s"},
		{250 * time.Second, "250s"},
	}
	for _, tt := range tests {
		if got := trace.FmtDur(tt.d); got != tt.want {
			t.Errorf("fmtDur(%d) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestSparkline(t *testing.T) {
	h := make([]uint64, trace.HistBuckets)
	if got := trace.Sparkline(h); got != "-" {
		t.Errorf("empty = %q, want -", got)
	}
	h[0], h[3] = 8, 1
	if got, want := trace.Sparkline(h), "1ns █  ▁ 16ns"; got != want {
		t.Errorf("sparkline = %q, want %q", got, want)
	}
	h[trace.HistBuckets-1] = 8
	if got, want := trace.Sparkline(h)[len(trace.Sparkline(h))-5:], "█ +"; got[len(got)-len(want):] != want {
		t.Errorf("sparkline with open last bucket ends %q, want %q", got, want)
	}
}

func TestDirectionString(t *testing.T) {
	for d, want := range map[trace.Direction]string{trace.DirRead: "read", trace.DirWrite: "write", trace.DirPoll: "poll", 0: "unknown"} {
		if got := d.String(); got != want {
			t.Errorf("Direction(%d) = %q, want %q", d, got, want)
		}
	}
}

func TestParseRelease(t *testing.T) {
	tests := []struct {
		in           string
		major, minor int
		ok           bool
	}{
		{"6.18.44-fc-v669", 6, 18, true},
		{"5.15.0-91-generic", 5, 15, true},
		{"6.1-rc3", 6, 1, true},
		{"garbage", 0, 0, false},
	}
	for _, tt := range tests {
		major, minor, ok := trace.ParseRelease(tt.in)
		if major != tt.major || minor != tt.minor || ok != tt.ok {
			t.Errorf("parseRelease(%q) = %d, %d, %v; want %d, %d, %v", tt.in, major, minor, ok, tt.major, tt.minor, tt.ok)
		}
	}
}

// As root on a supported kernel Check passes; otherwise its error is one
// line wrapping a sentinel.
func TestCheck(t *testing.T) {
	err := trace.Check()
	if os.Geteuid() == 0 && err != nil {
		t.Fatalf("Check as root: %v", err)
	}
	if err != nil && !errors.Is(err, trace.ErrPermission) && !errors.Is(err, trace.ErrUnsupported) {
		t.Errorf("Check = %v, wraps neither ErrPermission nor ErrUnsupported", err)
	}
	if !errors.Is(trace.ErrPermission, os.ErrPermission) || !errors.Is(trace.ErrUnsupported, errors.ErrUnsupported) || !errors.Is(trace.ErrClosed, os.ErrClosed) {
		t.Error("sentinels do not wrap the standard errors")
	}
}

// Labels are printed safely: a control character in a command cannot
// split a row or reach the terminal, and a long command does not widen
// every row.
func TestWriteTableSafeLabels(t *testing.T) {
	r := exampleReport()
	names := map[int]string{
		101: "stage 1 (printf 'a\nb\x1b[2J')",
		102: "stage 2 (" + strings.Repeat("x", 300) + ")",
	}
	var b strings.Builder
	r.WriteTable(&b, names)
	out := b.String()
	if strings.ContainsRune(out, 0x1b) {
		t.Errorf("an escape character reached the output:\n%s", out)
	}
	for l := range strings.Lines(out) {
		if n := utf8.RuneCountInString(l); n > 120 {
			t.Errorf("row of %d characters:\n%s", n, l)
		}
		if f := strings.Fields(l); len(f) > 0 && f[0] != "PID" && f[0] != "pipe" {
			if _, err := strconv.Atoi(f[0]); err != nil {
				t.Errorf("row does not start with a pid (split by a newline?): %q", l)
			}
		}
	}
	if !strings.Contains(out, `stage 1 (printf 'a\nb\x1b[2J')`) {
		t.Errorf("want the command shown with its control characters escaped:\n%s", out)
	}
}
