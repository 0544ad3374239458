// Package cmdline parses what users type: flags (ParseFlags: one-line
// errors in the --name style, with "did you mean" for a near miss), stage
// command lines, split into words the way a POSIX shell would (without
// expanding anything), and sizes such as 64K or 1MiB.
package cmdline
