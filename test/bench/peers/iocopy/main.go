// Command iocopy is the idiomatic Go pipe relay, the Go peer of pipeloop.
//
//	iocopy                 copy stdin to stdout: io.Copy(os.Stdout, os.Stdin)
//	iocopy STAGE STAGE...  spawn the stages with exec.Cmd and join each
//	                       StdoutPipe to the next StdinPipe with io.Copy in a
//	                       goroutine; stage 1 inherits stdin, stage N stdout
//
// Stages are split into words with strings.Fields (no shell, no quoting).
//
// Neither mode is zero-copy: io.Copy hands the pipes to os.File.ReadFrom
// (exec.Cmd's StdinPipe embeds the *os.File), which tries copy_file_range,
// gets EINVAL for a pipe, does not try splice (Go splices only from sockets)
// and falls back to read and write through a 32 KiB buffer. That is exactly
// what a Go programmer gets without
// writing a relay, which is the point of this peer.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/pipeloop/pipeloop/internal/label"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "iocopy:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			return fmt.Errorf("copy stdin to stdout: %w", err)
		}
		return nil
	}
	return spawn(ctx, args)
}

// spawn runs the stages with an io.Copy goroutine between each pair.
func spawn(ctx context.Context, stages []string) error {
	cmds := make([]*exec.Cmd, len(stages))
	for i, s := range stages {
		words := strings.Fields(s)
		if len(words) == 0 {
			return fmt.Errorf("stage %d is empty", i+1)
		}
		cmds[i] = exec.CommandContext(ctx, words[0], words[1:]...)
		cmds[i].Stderr = os.Stderr
	}
	cmds[0].Stdin = os.Stdin
	cmds[len(cmds)-1].Stdout = os.Stdout

	var wg sync.WaitGroup
	copyErrs := make([]error, len(cmds)-1)
	for i := range len(cmds) - 1 {
		r, err := cmds[i].StdoutPipe()
		if err != nil {
			return fmt.Errorf("stage %d: stdout pipe: %w", i+1, err)
		}
		w, err := cmds[i+1].StdinPipe()
		if err != nil {
			return fmt.Errorf("stage %d: stdin pipe: %w", i+2, err)
		}
		wg.Go(func() {
			_, err := io.Copy(w, r)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				copyErrs[i] = fmt.Errorf("link %d: %w", i+1, err)
				io.Copy(io.Discard, r) // let the writer finish
			}
		})
	}
	for i, c := range cmds {
		if err := c.Start(); err != nil {
			return fmt.Errorf("%s: start: %w", label.Stage(i+1, stages[i]), err)
		}
	}
	wg.Wait()
	var errs []error
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", label.Stage(i+1, stages[i]), err))
		}
	}
	return errors.Join(append(copyErrs, errs...)...)
}
