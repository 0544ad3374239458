//go:build linux && (race || pipeloopcheck)

package loop

// checkThread: loop-only methods check their caller's thread (thread.go).
const checkThread = true
