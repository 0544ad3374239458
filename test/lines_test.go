package test_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"testing"
)

// randomText is n bytes of printable text in lines of random length
// (empty lines included, no newline at the end), written to a file in
// small chunks (a large buffer would raise the test process's RSS, which
// a child started by vfork inherits as its max RSS: TestSlowConsumerMemory);
// it returns the file and the test's own count of '\n'.
func randomText(t *testing.T, n int, seed uint64) (*os.File, uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	f, err := os.CreateTemp(t.TempDir(), "text")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var lines uint64
	chunk := make([]byte, 64<<10)
	for left := n; left > 0; left -= len(chunk) {
		b := chunk[:min(len(chunk), left)]
		for i := range b {
			if rng.IntN(40) == 0 {
				b[i] = '\n'
				lines++
			} else {
				b[i] = byte(' ' + rng.IntN(95))
			}
		}
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	return f, lines
}

// countLines counts the '\n' bytes in f from its start, and its size.
func countLines(t *testing.T, f *os.File) (lines uint64, size int64) {
	t.Helper()
	g := reopen(t, f)
	buf := make([]byte, 64<<10)
	for {
		m, err := g.Read(buf)
		lines += uint64(bytes.Count(buf[:m], []byte{'\n'}))
		size += int64(m)
		if err != nil {
			return lines, size
		}
	}
}

// TestLines: with --lines every link's line count in --stats-json is
// exactly the number of '\n' in random text (counted here), in stdin mode
// and in a pipeline, the links copy, and the bytes arrive intact;
// --lines with --mode splice is a usage error.
func TestLines(t *testing.T) {
	t.Parallel()
	const n = 8<<20 + 12345 // not a multiple of any ring or pipe size
	for _, tc := range []struct {
		name  string
		args  []string
		links int
	}{
		{"stdin", []string{"--lines"}, 1},
		{"pipeline", []string{"--lines", "cat", "cat", "cat"}, 2},
		{"pipeline copy", []string{"--lines", "--mode", "copy", "cat", "tr a-z A-Z", "cat"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, want := randomText(t, n, uint64(len(tc.name)))
			out, err := os.CreateTemp(t.TempDir(), "out")
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			res, rep := runStats(t, runOpts{stdin: in, stdout: out}, tc.args...)
			if got, size := countLines(t, out); res.code != 0 || size != n || got != want {
				t.Fatalf("exit %d, %d bytes and %d lines out, want 0, %d and %d; stderr: %s", res.code, size, got, n, want, res.stderr)
			}
			if len(rep.Links) != tc.links {
				t.Fatalf("%d links, want %d", len(rep.Links), tc.links)
			}
			for _, l := range rep.Links {
				if l.Lines == nil || *l.Lines != want {
					t.Errorf("link %d: lines %v, want %d", l.Index, l.Lines, want)
				}
				if l.Mode != "copy" || l.SpliceBytes != 0 {
					t.Errorf("link %d: mode %s, %d bytes spliced; want copy only", l.Index, l.Mode, l.SpliceBytes)
				}
			}
		})
	}
	t.Run("splice", func(t *testing.T) {
		res := run(t, runOpts{}, "--lines", "--mode", "splice", "cat")
		if res.code != 2 {
			t.Fatalf("exit %d, want 2 (usage)", res.code)
		}
		onlyLine(t, res.stderr, "--lines", "--mode splice", "(try --help)")
	})
}
