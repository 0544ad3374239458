//go:build linux && (mips || mipsle || mips64 || mips64le)

package main

import "os"

// archSignals: mips has no SIGSTKFLT.
func archSignals() []os.Signal { return nil }
