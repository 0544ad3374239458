package cmdline_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/pipeloop/pipeloop/internal/cmdline"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{``, nil},
		{`  `, nil},
		{`gzip -c`, []string{"gzip", "-c"}},
		{"a\tb  c", []string{"a", "b", "c"}},
		{`'a b' "c d"`, []string{"a b", "c d"}},
		{`a\ b`, []string{"a b"}},
		{`"a\"b" "a\\b" "a\b" "\$" "\` + "`" + `"`, []string{`a"b`, `a\b`, `a\b`, `$`, "`"}},
		{`'a\b' '$x' '"'`, []string{`a\b`, `$x`, `"`}},
		{`'' "" a''b`, []string{"", "", "ab"}},
		{"a\\\nb", []string{"ab"}},
		{"\"a\\\nb\"", []string{"ab"}},
		{"'a\nb'", []string{"a\nb"}},
		{`grep -v "^#" x`, []string{"grep", "-v", "^#", "x"}},
		{`a#b \#c "#d" '#e'`, []string{"a#b", "#c", "#d", "#e"}},
		{`* ~ {a,b}`, []string{"*", "~", "{a,b}"}}, // nothing is expanded
	} {
		got, err := cmdline.Split(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Split(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSplitErrors(t *testing.T) {
	for _, tc := range []struct {
		in    string
		shell bool // the error wraps ErrShellSyntax
	}{
		{`a\`, false},
		{`'a`, false},
		{`"a`, false},
		{`sort | uniq`, true},
		{`a && b`, true},
		{`a; b`, true},
		{`a > f`, true},
		{`a < f`, true},
		{`(a)`, true},
		{`echo $HOME`, true},
		{"echo `x`", true},
		{`"$x"`, true},
		{"\"`x`\"", true},
		// A newline ends a command in sh, as ';' does: "sort\nuniq" is two
		// commands there, not sort with an argument.
		{"sort\nuniq", true},
		{"a\n", true},
		// A word starting with '#' starts a comment in sh: "grep #x" is
		// grep with no argument there.
		{`grep #x`, true},
		{`#`, true},
	} {
		_, err := cmdline.Split(tc.in)
		if err == nil {
			t.Errorf("Split(%q) succeeded, want an error", tc.in)
			continue
		}
		if got := errors.Is(err, cmdline.ErrShellSyntax); got != tc.shell {
			t.Errorf("Split(%q): %v; wraps ErrShellSyntax: %v, want %v", tc.in, err, got, tc.shell)
		}
	}
}
