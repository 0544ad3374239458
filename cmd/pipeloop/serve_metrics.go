//go:build linux

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/pipeloop/pipeloop/loop"
	"github.com/pipeloop/pipeloop/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveCollector exports server.Stats as Prometheus metrics. Collect runs
// on an HTTP goroutine; it reads the stats on the loop goroutine through
// loop.Post, as the server's threading contract requires.
type serveCollector struct {
	l   *loop.Loop
	srv *server.Server

	open, accepting, accepted, closed, bytes, exits, stall, acceptErrors *prometheus.Desc
}

func newServeCollector(l *loop.Loop, srv *server.Server) *serveCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("pipeloop_serve_"+name, help, labels, nil)
	}
	return &serveCollector{l: l, srv: srv,
		open:         d("connections_open", "Connections open now."),
		accepting:    d("accepting", "1 while accepting, 0 while paused at --max-conns."),
		accepted:     d("connections_total", "Connections accepted."),
		closed:       d("connections_closed_total", "Connections over, by why they ended.", "reason"),
		bytes:        d("bytes_total", "Bytes relayed: in is client to stage 1, out is stage N to client.", "direction"),
		exits:        d("stage_exits_total", "Stages finished, by position and shell-style status.", "stage", "status"),
		stall:        d("stall_seconds_total", "Time links spent stalled: full is holding bytes the sink would not take, empty is waiting for the source.", "direction", "wait"),
		acceptErrors: d("accept_errors_total", "Failed accept4 calls."),
	}
}

func (c *serveCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.open, c.accepting, c.accepted, c.closed, c.bytes, c.exits, c.stall, c.acceptErrors} {
		ch <- d
	}
}

func (c *serveCollector) Collect(ch chan<- prometheus.Metric) {
	res := make(chan server.Stats, 1)
	if c.l.Post(func() { res <- c.srv.Stats() }) != nil {
		return // the loop has stopped
	}
	var st server.Stats
	select {
	case st = <-res:
	case <-time.After(5 * time.Second):
		return
	}
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	gauge(c.open, float64(st.Open))
	accepting := 1.0
	if st.Paused {
		accepting = 0
	}
	gauge(c.accepting, accepting)
	counter(c.accepted, float64(st.Accepted))
	for r, n := range st.Ended {
		counter(c.closed, float64(n), string(r))
	}
	counter(c.bytes, float64(st.BytesIn), "in")
	counter(c.bytes, float64(st.BytesOut), "out")
	for e, n := range st.Exits {
		counter(c.exits, float64(n), strconv.Itoa(e.Stage), strconv.Itoa(e.Code))
	}
	counter(c.stall, st.InFull.Seconds(), "in", "full")
	counter(c.stall, st.InEmpty.Seconds(), "in", "empty")
	counter(c.stall, st.OutFull.Seconds(), "out", "full")
	counter(c.stall, st.OutEmpty.Seconds(), "out", "empty")
	counter(c.acceptErrors, float64(st.AcceptErrors))
}

// serveMetrics serves /metrics on addr (host:port with the same loopback
// default as --listen, or unix:/path) and returns a function that stops it.
func serveMetrics(addr string, l *loop.Loop, srv *server.Server, log *serveLogger) (func(), error) {
	a, err := server.ParseAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	network, where := "tcp", a.String()
	if a.Network == "unix" {
		network, where = "unix", a.Path
	}
	ln, err := net.Listen(network, where)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(newServeCollector(l, srv),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.Post(func() { log.info("metrics server failed", slog.String("err", err.Error())) })
		}
	}()
	l.Post(func() { log.info("metrics", slog.String("addr", ln.Addr().String())) })
	return func() { hs.Close() }, nil
}
