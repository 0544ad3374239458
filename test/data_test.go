package test_test

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// stagesOf returns n copies of "cat" as STAGE arguments.
func stagesOf(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = "cat"
	}
	return s
}

// TestBytesExact sends payloads of every size around PIPE_BUF and the
// buffer sizes, and 100 MiB, through pipeloop in every mode, with 0
// (stdin mode), 1, 2 and 20 stages, fed both from a file and from a pipe,
// and compares SHA-256.
func TestBytesExact(t *testing.T) {
	sizes := []int64{0, 1, 4095, 4096, 4097, 65535, 65536, 65537, 100 << 20}
	for _, size := range sizes {
		if testing.Short() && size > 1<<20 {
			continue
		}
		src, want := payload(t, size)
		for _, mode := range []string{"auto", "copy", "splice"} {
			for _, stages := range []int{0, 1, 2, 20} {
				for _, feed := range []string{"file", "pipe"} {
					if size > 1<<20 && feed == "pipe" && stages != 2 {
						continue // keep the big payload's matrix affordable
					}
					name := fmt.Sprintf("%d/%s/stages=%d/%s", size, mode, stages, feed)
					t.Run(name, func(t *testing.T) {
						var in io.Reader = reopen(t, src)
						if feed == "pipe" {
							in = struct{ io.Reader }{in} // hide *os.File: exec makes a pipe
						}
						args := append([]string{"--mode", mode}, stagesOf(stages)...)
						res := run(t, runOpts{stdin: in}, args...)
						if res.code != 0 {
							t.Fatalf("exit %d; stderr: %s", res.code, res.stderr)
						}
						if res.n != size || res.sum != want {
							t.Fatalf("got %d bytes sha256 %s, want %d bytes %s", res.n, res.sum, size, want)
						}
					})
				}
			}
		}
	}
}

// TestGzipRoundTrip compresses and decompresses through two stages.
func TestGzipRoundTrip(t *testing.T) {
	src, want := payload(t, 8<<20)
	for _, mode := range []string{"auto", "copy", "splice"} {
		t.Run(mode, func(t *testing.T) {
			res := run(t, runOpts{stdin: reopen(t, src)}, "--mode", mode, "gzip -c", "gzip -dc")
			if res.code != 0 || res.sum != want {
				t.Fatalf("exit %d, sha256 %s, want 0 and %s; stderr: %s", res.code, res.sum, want, res.stderr)
			}
		})
	}
}

// TestOddSizes covers small and awkward buffer and pipe sizes.
func TestOddSizes(t *testing.T) {
	src, want := payload(t, 3<<20+17)
	for _, args := range [][]string{
		{"--buffer", "4097", "--pipe-size", "4096"},
		{"--buffer", "8K", "--pipe-size", "0"},
		{"--buffer", "1MiB", "--pipe-size", "64KiB"},
		{"--mode", "copy", "--buffer", "8192", "--pipe-size", "4K"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			res := run(t, runOpts{stdin: struct{ io.Reader }{reopen(t, src)}}, append(args, "cat", "cat")...)
			if res.code != 0 || res.sum != want {
				t.Fatalf("exit %d, sha256 %s, want 0 and %s; stderr: %s", res.code, res.sum, want, res.stderr)
			}
		})
	}
}

// TestShellFlag runs stages under /bin/sh -c.
func TestShellFlag(t *testing.T) {
	res := run(t, runOpts{keepOut: true}, "--shell", "echo hello | tr a-z A-Z", "sed 's/$/!/'")
	if got, want := string(res.out), "HELLO!\n"; res.code != 0 || got != want {
		t.Fatalf("got %q (exit %d), want %q; stderr: %s", got, res.code, want, res.stderr)
	}
}

// TestQuoting passes words with quotes and escapes to a stage.
func TestQuoting(t *testing.T) {
	res := run(t, runOpts{keepOut: true}, `printf '%s|' 'a b' "c\"d" e\ f '' "$"`)
	if res.code == 0 {
		t.Fatalf("a $ inside double quotes must be refused; got output %q", res.out)
	}
	res = run(t, runOpts{keepOut: true}, `printf '%s|' 'a b' "c\"d" e\ f '' '$x'`)
	if got, want := string(res.out), `a b|c"d|e f||$x|`; res.code != 0 || got != want {
		t.Fatalf("got %q (exit %d), want %q; stderr: %s", got, res.code, want, res.stderr)
	}
}

// TestStdinFromDevZero reads a non-pollable character device.
func TestStdinFromDevZero(t *testing.T) {
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer zero.Close()
	res := run(t, runOpts{stdin: zero}, "head -c 1000000")
	if res.code != 0 || res.n != 1000000 {
		t.Fatalf("exit %d, %d bytes; stderr: %s", res.code, res.n, res.stderr)
	}
}
