package test_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/report"
	"github.com/pipeloop/pipeloop/trace"
)

// runStats runs pipeloop with --stats-json into a file and decodes the
// report strictly (see decodeReport).
func runStats(t *testing.T, o runOpts, args ...string) (result, *report.Report) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stats.json")
	if o.timeout == 0 {
		o.timeout = 20 * time.Second
	}
	res := run(t, o, append([]string{"--stats-json", path}, args...)...)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no --stats-json output: %v; stderr:\n%s", err, res.stderr)
	}
	return res, decodeReport(t, data)
}

// decodeReport decodes data into the schema types with unknown fields
// disallowed, and checks that every field the schema does not mark
// omitempty is present, at every level.
func decodeReport(t *testing.T, data []byte) *report.Report {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rep report.Report
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("report does not match the schema: %v\n%s", err, data)
	}
	var raw any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	requireFields(t, "", reflect.TypeOf(rep), raw)
	if rep.Schema != report.Schema || rep.SchemaVersion != report.SchemaVersion {
		t.Errorf("schema %q version %d, want %q %d", rep.Schema, rep.SchemaVersion, report.Schema, report.SchemaVersion)
	}
	return &rep
}

// requireFields walks typ alongside the decoded JSON v.
func requireFields(t *testing.T, path string, typ reflect.Type, v any) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch typ.Kind() {
	case reflect.Slice:
		if typ.Elem().Kind() == reflect.Uint8 { // json.RawMessage
			return
		}
		list, ok := v.([]any)
		if !ok {
			t.Errorf("%s: want a JSON array, got %T", path, v)
			return
		}
		for i, e := range list {
			requireFields(t, fmt.Sprintf("%s[%d]", path, i), typ.Elem(), e)
		}
	case reflect.Struct:
		if typ == reflect.TypeOf(time.Time{}) {
			if _, ok := v.(string); !ok {
				t.Errorf("%s: want an RFC 3339 string, got %T", path, v)
			}
			return
		}
		obj, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: want a JSON object, got %T", path, v)
			return
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			fv, present := obj[name]
			if !present {
				if !strings.Contains(opts, "omitempty") {
					t.Errorf("%s.%s: required field missing", path, name)
				}
				continue
			}
			if fv == nil {
				t.Errorf("%s.%s: null", path, name)
				continue
			}
			requireFields(t, path+"."+name, f.Type, fv)
		}
	}
}

// TestStatsJSONSchema decodes real reports of both modes against the
// schema and checks that the numbers agree with what was relayed.
func TestStatsJSONSchema(t *testing.T) {
	f, sum := payload(t, 4<<20)
	t.Run("pipeline", func(t *testing.T) {
		res, rep := runStats(t, runOpts{stdin: f}, "cat", "cat", "false")
		if res.code != 1 || rep.ExitStatus != 1 {
			t.Fatalf("exit %d, report says %d, want 1; stderr: %s", res.code, rep.ExitStatus, res.stderr)
		}
		if rep.Mode != "pipeline" || len(rep.Stages) != 3 || len(rep.Links) != 2 {
			t.Fatalf("mode %q, %d stages, %d links; want pipeline, 3, 2", rep.Mode, len(rep.Stages), len(rep.Links))
		}
		for i, st := range rep.Stages {
			if st.Index != i+1 || st.Pid <= 0 || st.WallNS <= 0 || len(st.Args) == 0 {
				t.Errorf("stage %d: %+v", i+1, st)
			}
		}
		if got := rep.Stages[2]; got.Command != "false" || got.ExitStatus != 1 {
			t.Errorf("stage 3: command %q status %d, want false, 1", got.Command, got.ExitStatus)
		}
		l := rep.Links[0]
		if l.From != "stage 1 (cat)" || l.To != "stage 2 (cat)" || l.End == "" {
			t.Errorf("link 1: %+v", l)
		}
		if l.Bytes != l.SpliceBytes+l.CopyBytes {
			t.Errorf("link 1: bytes %d != splice %d + copy %d", l.Bytes, l.SpliceBytes, l.CopyBytes)
		}
		if rep.Relay.WallNS <= 0 || rep.Relay.Loop.EpollWaits == 0 || rep.Relay.Loop.Reaped != 3 {
			t.Errorf("relay: %+v", rep.Relay)
		}
		if rep.Verdict.Kind == "" || rep.Verdict.Summary == "" {
			t.Errorf("verdict: %+v", rep.Verdict)
		}
		if rep.Stalls != nil {
			t.Errorf("stalls present without --trace: %s", rep.Stalls)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		res, rep := runStats(t, runOpts{stdin: reopen(t, f)})
		if res.code != 0 || res.sum != sum {
			t.Fatalf("exit %d, output intact %v; stderr: %s", res.code, res.sum == sum, res.stderr)
		}
		if rep.Mode != "stdin" || len(rep.Stages) != 0 || len(rep.Links) != 1 {
			t.Fatalf("mode %q, %d stages, %d links; want stdin, 0, 1", rep.Mode, len(rep.Stages), len(rep.Links))
		}
		l := rep.Links[0]
		if l.From != "stdin" || l.To != "stdout" || l.Bytes != 4<<20 || l.End != "eof" {
			t.Errorf("link: %+v", l)
		}
		if res.stderr != "" {
			t.Errorf("--stats-json FILE wrote to stderr: %q", res.stderr)
		}
	})
	t.Run("stderr", func(t *testing.T) {
		res := run(t, runOpts{stdin: reopen(t, f), timeout: 20 * time.Second}, "--stats-json", "-", "cat")
		if res.code != 0 || res.sum != sum {
			t.Fatalf("exit %d, output intact %v; stderr: %s", res.code, res.sum == sum, res.stderr)
		}
		rep := decodeReport(t, []byte(res.stderr))
		if rep.Mode != "pipeline" || rep.Links == nil || len(rep.Links) != 0 {
			t.Errorf("mode %q links %v, want pipeline and an empty list", rep.Mode, rep.Links)
		}
	})
	t.Run("bad path", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "ran")
		res := run(t, runOpts{}, "--stats-json", filepath.Join(t.TempDir(), "no", "such", "dir"), "touch "+marker)
		if res.code != 2 {
			t.Fatalf("exit %d, want 2", res.code)
		}
		onlyLine(t, res.stderr, "--stats-json")
		if _, err := os.Stat(marker); err == nil {
			t.Error("the stage ran although the report could not be written")
		}
	})
}

// TestReadmeStatsJSON keeps the README's example report valid against the
// schema: it must decode with no unknown field and no missing one.
func TestReadmeStatsJSON(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```json\n")
	if !ok {
		t.Fatal("README.md has no ```json example block")
	}
	example, _, ok := strings.Cut(rest, "```\n")
	if !ok {
		t.Fatal("README.md: unterminated json block")
	}
	rep := decodeReport(t, []byte(example))
	if len(rep.Links) == 0 || len(rep.Stages) == 0 || len(rep.Verdict.Evidence) == 0 {
		t.Error("the README example should show links, stages and the verdict's evidence")
	}
}

// TestStatsJSONTrace: with --trace, the report carries the kernel's stall
// tables and each stage's pipe stalls.
func TestStatsJSONTrace(t *testing.T) {
	res, rep := runStats(t, runOpts{}, "--trace", "head -c 20M /dev/zero", "sh -c 'sleep 0.5; exec cat'")
	if strings.Contains(res.stderr, "running untraced") {
		t.Skipf("no eBPF tracing here: %s", res.stderr)
	}
	if res.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
	}
	dec := json.NewDecoder(bytes.NewReader(rep.Stalls))
	dec.DisallowUnknownFields()
	var stalls trace.JSONReport
	if err := dec.Decode(&stalls); err != nil {
		t.Fatalf("stalls do not decode as trace.JSONReport: %v\n%s", err, rep.Stalls)
	}
	if len(stalls.Processes) == 0 {
		t.Errorf("no process in the stall tables: %s", rep.Stalls)
	}
	st := rep.Stages[0].Stalls
	if st == nil || st.WriteNS < int64(200*time.Millisecond) {
		t.Errorf("stage 1 stalls %+v: want it blocked writing for most of the 0.5 s its reader slept", st)
	}
	t.Log(rep.Verdict)
}

// TestStatsJSONTraceDescendants: a stage that is a shell running its
// command as a child gets the child's waits on the stage's own pipes.
func TestStatsJSONTraceDescendants(t *testing.T) {
	res, rep := runStats(t, runOpts{}, "--trace", "sh -c 'head -c 20M /dev/zero; true'", "sh -c 'sleep 0.5; exec cat'")
	if strings.Contains(res.stderr, "running untraced") {
		t.Skipf("no eBPF tracing here: %s", res.stderr)
	}
	if res.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
	}
	st := rep.Stages[0].Stalls
	if st == nil || st.WriteNS < int64(200*time.Millisecond) {
		t.Errorf("stage 1 stalls %+v: want its head blocked writing for most of the 0.5 s its reader slept\n%s", st, res.stderr)
	}
}

// TestStatsJSONTraceInternalPipe: a stage's own waits on a pipe that is
// neither its stdin nor its stdout (a shell's command substitution) are
// not the stage's stalls, as they are not when a descendant has them.
func TestStatsJSONTraceInternalPipe(t *testing.T) {
	res, rep := runStats(t, runOpts{}, "--trace", "seq 20",
		`bash -c 'while read -r l; do v=$(sleep 0.05; echo $l); echo $v; done'`)
	if strings.Contains(res.stderr, "running untraced") {
		t.Skipf("no eBPF tracing here: %s", res.stderr)
	}
	if res.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
	}
	// bash waited ~1 s on its command substitutions' pipes, and hardly
	// on its stdin: seq wrote all of it at once.
	if st := rep.Stages[1].Stalls; st == nil || st.ReadNS > int64(300*time.Millisecond) {
		t.Errorf("stage 2 stalls %+v: its waits on its own internal pipes counted as reading its stdin\n%s", st, res.stderr)
	}
}
