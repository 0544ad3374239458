//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pipeloop/pipeloop/server"
)

// asyncWriter hands lines to a goroutine that writes them, so the loop
// thread never blocks on a slow stderr (a full pipe to a log collector
// would otherwise stall every connection). The queue is bounded: when it
// is full, lines are dropped and counted, and the count is reported at
// Close.
type asyncWriter struct {
	w       io.Writer
	ch      chan []byte
	dropped atomic.Uint64
	wg      sync.WaitGroup
	once    sync.Once
}

func newAsyncWriter(w io.Writer, depth int) *asyncWriter {
	a := &asyncWriter{w: w, ch: make(chan []byte, depth)}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for b := range a.ch {
			a.w.Write(b)
		}
	}()
	return a
}

// Write queues a copy of p (one whole line from slog) without blocking.
func (a *asyncWriter) Write(p []byte) (int, error) {
	select {
	case a.ch <- append([]byte(nil), p...):
	default:
		a.dropped.Add(1)
	}
	return len(p), nil
}

// Close flushes the queue and reports dropped lines.
func (a *asyncWriter) Close() {
	a.once.Do(func() {
		close(a.ch)
		a.wg.Wait()
		if n := a.dropped.Load(); n > 0 {
			fmt.Fprintf(a.w, "pipeloop serve: %d log lines dropped (stderr too slow)\n", n)
		}
	})
}

// serveLogger writes the per-connection log lines. Loop goroutine only.
type serveLogger struct {
	l *slog.Logger // nil: --log off
	w io.Writer    // where the log goes
}

func newServeLogger(w io.Writer, format string) *serveLogger {
	opts := &slog.HandlerOptions{}
	switch format {
	case "json":
		return &serveLogger{slog.New(slog.NewJSONHandler(w, opts)), w}
	case "text":
		return &serveLogger{slog.New(slog.NewTextHandler(w, opts)), w}
	}
	return &serveLogger{w: w}
}

func (g *serveLogger) info(msg string, attrs ...slog.Attr) {
	if g.l != nil {
		g.l.LogAttrs(context.Background(), slog.LevelInfo, msg, attrs...)
	}
}

// warn logs what the relay did other than asked ("pipes" warning=…);
// with --log off it is still said, as a plain line.
func (g *serveLogger) warn(msg string) {
	if g.l == nil {
		fmt.Fprintf(g.w, "pipeloop serve: %s\n", msg)
		return
	}
	g.l.LogAttrs(context.Background(), slog.LevelWarn, "pipes", slog.String("warning", msg))
}

func (g *serveLogger) error(err error) {
	if g.l != nil {
		g.l.LogAttrs(context.Background(), slog.LevelError, "accept", slog.String("err", err.Error()))
	}
}

// start logs "conn start", or the reason the pipeline did not start.
func (g *serveLogger) start(c *server.Conn) {
	if g.l == nil {
		return
	}
	attrs := []slog.Attr{slog.Uint64("conn", c.ID), slog.String("peer", c.Peer)}
	if c.Err != nil {
		g.l.LogAttrs(context.Background(), slog.LevelError, "conn start",
			append(attrs, slog.String("err", c.Err.Error()))...)
		return
	}
	g.l.LogAttrs(context.Background(), slog.LevelInfo, "conn start", append(attrs, slog.Any("pids", c.Pids()))...)
}

// end logs "conn end" with bytes, statuses and why it ended.
func (g *serveLogger) end(c *server.Conn) {
	if g.l == nil {
		return
	}
	in, out := c.InStats(), c.OutStats()
	attrs := []slog.Attr{
		slog.Uint64("conn", c.ID), slog.String("peer", c.Peer),
		slog.String("reason", string(c.Reason)), slog.Int("exit", c.ExitCode()),
		slog.String("stages", stageStatuses(c)),
		slog.Uint64("bytes_in", in.Bytes), slog.Uint64("bytes_out", out.Bytes),
		slog.Duration("duration", c.End.Sub(c.Start)),
		slog.Duration("in_full", in.TimeFull), slog.Duration("out_full", out.TimeFull),
	}
	var errs []string
	if c.Err != nil {
		errs = append(errs, c.Err.Error())
	}
	if p := c.Pipeline(); p != nil {
		for _, e := range p.Errors() {
			errs = append(errs, e.Error())
		}
	}
	if len(errs) > 0 {
		attrs = append(attrs, slog.String("err", strings.Join(errs, "; ")))
	}
	g.l.LogAttrs(context.Background(), slog.LevelInfo, "conn end", attrs...)
}

// stageStatuses is each stage's status, space-separated: "0 141".
func stageStatuses(c *server.Conn) string {
	p := c.Pipeline()
	if p == nil {
		return fmt.Sprint(c.ExitCode())
	}
	var b strings.Builder
	for i, st := range p.Stages() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, st.ExitCode())
	}
	return b.String()
}
