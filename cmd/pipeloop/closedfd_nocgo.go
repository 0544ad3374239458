//go:build !cgo

package main

// closedAtExec is always false without cgo: nothing runs before the Go
// runtime, which puts /dev/null on a closed 0, 1 or 2 (see
// closedfd_cgo.go).
func closedAtExec(int) bool { return false }
