// Package threadcheck is the test helper for the loop's thread check
// (loop.AssertLoopThread), shared by the packages built on the loop.
package threadcheck

import (
	"strings"
	"testing"
)

// Refused calls each of calls from the calling goroutine — not the
// loop's, while the loop runs, in a checking build — and fails t unless
// each panics with the check's message naming it ("NAME called from
// thread"). The panics are recovered.
func Refused(t testing.TB, calls map[string]func()) {
	t.Helper()
	for name, call := range calls {
		msg := func() (msg string) {
			defer func() { msg, _ = recover().(string) }()
			call()
			return ""
		}()
		if !strings.Contains(msg, name+" called from thread") {
			t.Errorf("%s from another goroutine: panic %q, want one naming it", name, msg)
		}
	}
}
