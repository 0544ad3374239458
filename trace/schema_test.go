package trace_test

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/pipeloop/pipeloop/trace"
)

// The JSON report names its format, and the README documents every field
// of it (as it does --stats-json), so the two cannot drift apart.
func TestJSONSchemaDocumented(t *testing.T) {
	b, err := json.Marshal(trace.Report{}.JSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	var head struct {
		Schema  string `json:"schema"`
		Version int    `json:"schema_version"`
	}
	json.Unmarshal(b, &head)
	if head.Schema != "pipeloop-trace" || head.Version != 2 {
		t.Errorf("schema %q version %d, want pipeloop-trace 2: %s", head.Schema, head.Version, b)
	}

	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const title = "### pipeloop trace --json schema (pipeloop-trace, version 2)"
	_, section, ok := strings.Cut(string(readme), title)
	if !ok {
		t.Fatalf("README.md has no %q section", title)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for _, v := range []any{trace.JSONReport{}, trace.JSONProcess{}, trace.JSONStall{}, trace.JSONPipe{}, trace.JSONDropped{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			documented := false
			for _, form := range []string{"`" + name + "`", "`" + name + "[]`", "." + name + "`", "." + name + "[]`"} {
				documented = documented || strings.Contains(section, form)
			}
			if name != "" && !documented {
				t.Errorf("README schema section does not document %s field `%s`", typ.Name(), name)
			}
		}
	}
}
