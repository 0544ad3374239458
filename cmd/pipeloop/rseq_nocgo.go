//go:build !cgo

package main

// threadRseqOff does nothing without cgo: the runtime starts its threads
// itself, and nothing registers an rseq area for them (rseq_cgo.go).
func threadRseqOff() error { return nil }
