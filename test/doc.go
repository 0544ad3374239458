// Package test holds pipeloop's end-to-end tests: they build the real
// binary once and run it on real processes (dd, cat, sh, yes, head,
// gzip…), checking bytes with SHA-256, exit statuses, signals, and that no
// process, zombie or fd is left behind.
package test
