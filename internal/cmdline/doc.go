// Package cmdline parses what users type: stage command lines, split into
// words the way a POSIX shell would (without expanding anything), and sizes
// such as 64K or 1MiB.
package cmdline
