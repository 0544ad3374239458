package test_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"testing"
)

// randomText is n bytes of printable text in lines of random length
// (empty lines included, and no newline at the end when last is false),
// written to a file; it returns the file and the test's own count of '\n'.
func randomText(t *testing.T, n int, seed uint64) (*os.File, uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	var lines uint64
	for i := range b {
		if rng.IntN(40) == 0 {
			b[i] = '\n'
			lines++
		} else {
			b[i] = byte(' ' + rng.IntN(95))
		}
	}
	f, err := os.CreateTemp(t.TempDir(), "text")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	if got := uint64(bytes.Count(b, []byte{'\n'})); got != lines {
		t.Fatalf("test's own count: %d, want %d", got, lines)
	}
	return f, lines
}

// TestLines: with --lines every link's line count in --stats-json is
// exactly the number of '\n' in random text (counted here), in stdin mode
// and in a pipeline, the links copy, and the bytes arrive intact;
// --lines with --mode splice is a usage error.
func TestLines(t *testing.T) {
	t.Parallel()
	const n = 24<<20 + 12345 // not a multiple of any ring or pipe size
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
			res, rep := runStats(t, runOpts{stdin: in, keepOut: true}, tc.args...)
			if res.code != 0 || res.n != n {
				t.Fatalf("exit %d, %d bytes out, want 0 and %d; stderr: %s", res.code, res.n, n, res.stderr)
			}
			if got := uint64(bytes.Count(res.out, []byte{'\n'})); got != want {
				t.Fatalf("output has %d lines, want %d", got, want)
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
