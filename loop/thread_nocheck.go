//go:build linux && !race && !pipeloopcheck

package loop

// checkThread: loop-only methods trust their caller (thread.go).
const checkThread = false
