//go:build linux && !mips && !mipsle && !mips64 && !mips64le

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// archSignals are the terminating signals this architecture has beyond
// the common ones: SIGSTKFLT (mips has none).
func archSignals() []os.Signal { return []os.Signal{unix.SIGSTKFLT} }
