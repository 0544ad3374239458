package test_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/report"
)

// decodeProgress decodes --progress-json output line by line into the
// schema types, unknown fields disallowed and every field the schema does
// not mark omitempty present.
func decodeProgress(t *testing.T, data []byte) []report.Progress {
	t.Helper()
	var out []report.Progress
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var p report.Progress
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("line %q does not match the schema: %v", sc.Bytes(), err)
		}
		var raw any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		requireFields(t, "", reflect.TypeOf(p), raw)
		if p.Schema != report.ProgressSchema || p.SchemaVersion != report.ProgressSchemaVersion {
			t.Errorf("schema %q version %d, want %q %d", p.Schema, p.SchemaVersion, report.ProgressSchema, report.ProgressSchemaVersion)
		}
		out = append(out, p)
	}
	return out
}

// TestProgressJSON: --progress-json writes one line a second and a final
// one, each decoded with the schema: the input's share rises to 1, the
// link's bytes and lines rise to the totals, the rate matches the limit,
// and the final line says final; into a file, or an inherited fd
// (/dev/fd/3), in stdin mode and in a pipeline.
func TestProgressJSON(t *testing.T) {
	const n = 5 << 20 // 2.5 s at the limit
	for _, tc := range []struct {
		name  string
		fd    bool
		stage []string
	}{
		{"file stdin", false, nil},
		{"fd pipeline", true, []string{"cat", "cat"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, lines := randomText(t, n, 7)
			path := filepath.Join(t.TempDir(), "progress.jsonl")
			o := runOpts{stdin: in, timeout: 30 * time.Second}
			dest := path
			if tc.fd {
				f, err := os.Create(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				o.extra, dest = []*os.File{f}, "/dev/fd/3"
			}
			args := append([]string{"--progress-json", dest, "--lines", "--rate-limit", "2M"}, tc.stage...)
			res := run(t, o, args...)
			if res.code != 0 || res.n != n {
				t.Fatalf("exit %d, %d bytes; stderr: %s", res.code, res.n, res.stderr)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ps := decodeProgress(t, data)
			t.Logf("%d lines in %v:\n%s", len(ps), res.wall, data)
			if len(ps) < 3 || len(ps) > int(res.wall/time.Second)+2 {
				t.Fatalf("%d lines in %v, want one a second and a final one", len(ps), res.wall)
			}
			var prevBytes uint64
			prevFrac := 0.0
			for i, p := range ps {
				if p.Final != (i == len(ps)-1) {
					t.Errorf("line %d: final %v", i+1, p.Final)
				}
				if p.Fraction == nil || p.TotalBytes == nil || *p.TotalBytes != n || *p.Fraction < prevFrac {
					t.Errorf("line %d: fraction %v of total %v, want a rising share of %d", i+1, p.Fraction, p.TotalBytes, n)
				} else {
					prevFrac = *p.Fraction
				}
				if len(p.Links) == 0 || p.Links[0].Bytes < prevBytes || p.Links[0].Lines == nil {
					t.Fatalf("line %d: links %+v", i+1, p.Links)
				}
				prevBytes = p.Links[0].Bytes
				if !p.Final && (p.ETANS == nil) {
					t.Errorf("line %d: no ETA", i+1)
				}
				if r := p.Links[0].RateBPS; !p.Final && i > 0 && (r < 2<<20*0.9 || r > 2<<20*1.1) {
					t.Errorf("line %d: rate %.0f, want the limit, %d ±10%%", i+1, r, 2<<20)
				}
			}
			last := ps[len(ps)-1]
			for _, l := range last.Links {
				if l.Bytes != n || *l.Lines != lines {
					t.Errorf("final line, link %d: %d bytes %d lines, want %d and %d", l.Index, l.Bytes, *l.Lines, n, lines)
				}
			}
			if *last.Fraction != 1 {
				t.Errorf("final share %v, want 1", *last.Fraction)
			}
		})
	}
}

// TestReadmeProgressJSON keeps the README's --progress-json example
// valid against the schema.
func TestReadmeProgressJSON(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(readme, []byte("```jsonl\n"))
	if !ok {
		t.Fatal("README.md has no ```jsonl example block")
	}
	block, _, ok := bytes.Cut(rest, []byte("```\n"))
	if !ok {
		t.Fatal("README.md: unterminated jsonl block")
	}
	if ps := decodeProgress(t, block); len(ps) == 0 {
		t.Error("the README's jsonl block holds no line")
	}
}
