package cmdline_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/big"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/internal/cmdline"
)

// shWords splits s the way sh does, by running it as the arguments of
// `set --` with globbing off, and reports whether sh accepted it.
func shWords(t *testing.T, sh, s string) ([]string, bool) {
	t.Helper()
	script := `set -f; [ -n "$BASH_VERSION" ] && set +B; set -- ` + s + "\n" + `printf '%s\0' "$#" "$@"`
	// An input sh reads as a command (Split takes ';' or '|' literally)
	// could run for long: a hung comparison must not stall the fuzzer.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sh, "-c", script)
	cmd.Env = []string{"PATH=/usr/bin:/bin"} // no HOME: ~ stays ~ (tildes are documented as not expanded anyway)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		return nil, false
	}
	parts := strings.Split(string(out), "\x00")
	if len(parts) < 2 || parts[len(parts)-1] != "" {
		t.Fatalf("sh output %q", out)
	}
	return parts[1 : len(parts)-1], true
}

// FuzzSplitShell checks Split against sh's own word splitting for every
// input both accept. Split's documented differences are left out: it
// expands nothing (tildes), and a NUL cannot reach sh through argv.
// Split must also never panic, and reject with an error rather than guess.
func FuzzSplitShell(f *testing.F) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		f.Skip("no sh to compare with")
	}
	for _, s := range []string{
		``, `a`, `a b  c`, "a\tb", `'a b' "c d"`, `a\ b`, `"a\"b"`, `"a\\b"`, `"a\b"`, `'a\b'`,
		`''`, `""`, `a''b`, `"\$x"`, "a\\\nb", "\"a\\\nb\"", "'a\nb'", `\'`, `\"`, `"'"`, `'"'`,
		`gzip -c`, `grep -v "^#" x`, `awk '{print $1}'`, `a=b c`, `-- -n`, `!`, `{a,b}`, `*`, `[ab]`,
		`\*`, `a#b`, `"#"`, `\#`, "\\\t", `%s`, `\\`, `"\\\""`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := cmdline.Split(s)
		if err != nil {
			return // only inputs Split accepts are compared
		}
		if strings.ContainsAny(s, "~\x00") {
			return
		}
		want, ok := shWords(t, sh, s)
		if !ok {
			return
		}
		if words == nil {
			words = []string{}
		}
		if strings.Join(words, "\x00") != strings.Join(want, "\x00") || len(words) != len(want) {
			t.Fatalf("Split(%q) = %q, sh splits it into %q", s, words, want)
		}
	})
}

var sizeRE = regexp.MustCompile(`^([0-9]+)(KiB|MiB|GiB|KB|MB|GB|K|M|G|k|m|g|B)?$`)

var sizeMult = map[string]int64{"": 1, "B": 1, "K": 1 << 10, "k": 1 << 10, "KiB": 1 << 10,
	"M": 1 << 20, "m": 1 << 20, "MiB": 1 << 20, "G": 1 << 30, "g": 1 << 30, "GiB": 1 << 30,
	"KB": 1000, "MB": 1000 * 1000, "GB": 1000 * 1000 * 1000}

// modelSize is ParseSize's contract written differently: digits, an
// optional unit, and a product that fits in an int64.
func modelSize(s string) (int64, bool) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, _ := new(big.Int).SetString(m[1], 10)
	n.Mul(n, big.NewInt(sizeMult[m[2]]))
	if n.Cmp(big.NewInt(math.MaxInt64)) > 0 {
		return 0, false
	}
	return n.Int64(), true
}

// FuzzParseSize checks ParseSize against modelSize.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "65536", "64K", "64k", "64KiB", "1M", "1MiB", "1G", "1000KB", "1B",
		"", "K", "-1", "+1", "1.5M", "1 K", "1KiBB", "9223372036854775807", "9223372036854775808",
		"8589934591G", "8589934592G", "0x10", "1_000", "007K", "1kB", "1iB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := cmdline.ParseSize(s)
		want, ok := modelSize(s)
		switch {
		case ok && err != nil:
			t.Fatalf("ParseSize(%q): %v, want %d", s, err, want)
		case !ok && err == nil:
			t.Fatalf("ParseSize(%q) = %d, want an error", s, n)
		case ok && n != want:
			t.Fatalf("ParseSize(%q) = %d, want %d", s, n, want)
		case err != nil && !strings.Contains(err.Error(), strconv.Quote(s)):
			t.Fatalf("ParseSize(%q) error %q does not quote the input", s, err)
		}
		if errors.Unwrap(err) != nil {
			t.Fatalf("ParseSize(%q) error wraps %v; nothing to wrap", s, errors.Unwrap(err))
		}
	})
}
