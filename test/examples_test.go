package test_test

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// TestReadmeExampleLineCounts keeps the README's table of example daemons
// honest: each count is the line count of examples/X/main.go and of
// examples/X/goroutines/main.go.
func TestReadmeExampleLineCounts(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `examples/(\\w+)`:.*\\| (\\d+) lines \\| (\\d+ lines|—) \\|$")
	rows := row.FindAllSubmatch(readme, -1)
	if len(rows) < 3 {
		t.Fatalf("README has %d example rows, want at least 3", len(rows))
	}
	count := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Error(err)
			return "?"
		}
		return strconv.Itoa(bytes.Count(b, []byte("\n"))) + " lines"
	}
	for _, m := range rows {
		name := string(m[1])
		if got, want := count("../examples/"+name+"/main.go"), string(m[2])+" lines"; got != want {
			t.Errorf("examples/%s/main.go: %s, README says %s", name, got, want)
		}
		if string(m[3]) == "—" {
			continue
		}
		if got, want := count("../examples/"+name+"/goroutines/main.go"), string(m[3]); got != want {
			t.Errorf("examples/%s/goroutines/main.go: %s, README says %s", name, got, want)
		}
	}
}
