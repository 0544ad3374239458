package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"time"
)

// ServeResults is what the serve section measured, with its parameters.
type ServeResults struct {
	Rounds  int             `json:"rounds"`
	Clients int             `json:"clients"` // concurrent clients of a short-connection cell
	Seconds float64         `json:"seconds"` // how long they run per cell
	Bulk    int64           `json:"bulk_bytes"`
	Note    string          `json:"note,omitempty"` // why nothing was measured
	Samples []ServeSample   `json:"samples"`
	Summary []*ServeSummary `json:"summary"`
}

// ServeSummary is one server and measurement over its rounds.
type ServeSummary struct {
	Server   string   `json:"server"`
	Kind     string   `json:"kind"`
	Rounds   int      `json:"rounds"`
	Rate     Stat     `json:"rate"`           // conn-rate: connections/s; bulk: MB/s
	CPU      Stat     `json:"server_cpu_per"` // conn-rate: ms per connection; bulk: s per GB
	VsSocat  Stat     `json:"vs_socat,omitzero"`
	Failures []string `json:"failures,omitempty"`
}

// runServe runs the serve cells: per round, per measurement, both servers
// (which goes first alternates by round), each on a fresh server.
func (res *Results) runServe(ctx context.Context, cfg *Config, t *Tools, log io.Writer) error {
	sv := &res.Serve
	*sv = ServeResults{Rounds: cfg.ServeRounds, Clients: cfg.ServeClients, Seconds: cfg.ServeDuration.Seconds(), Bulk: cfg.ServeBulk}
	if cfg.ServeRounds < 1 {
		sv.Note = "not run in this preset"
		return nil
	}
	progs := map[string]string{}
	if why := missing(t.Pipeloop, "pipeloop", "build it with `make build`"); why != "" {
		res.Skipped = append(res.Skipped, Skip{ServePipeloop, "serve", why})
	} else {
		progs[ServePipeloop] = t.Pipeloop
	}
	if p := lookPath("socat"); p == "" {
		res.Skipped = append(res.Skipped, Skip{ServeSocat, "serve", "socat not found: install it with `make deps`"})
		fmt.Fprintln(log, "skip serve socat: socat not found: install it with `make deps`")
	} else {
		progs[ServeSocat] = p
	}
	if len(progs) == 0 {
		sv.Note = "not measured: neither pipeloop nor socat can run"
		return nil
	}
	want := patternHash(cfg.ServeBulk)
	for r := range cfg.ServeRounds {
		for _, kind := range []string{ServeRate, ServeBulk} {
			order := []string{ServePipeloop, ServeSocat}
			if r%2 == 1 {
				order[0], order[1] = order[1], order[0]
			}
			for _, server := range order {
				if progs[server] == "" {
					continue
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				sr := serveRun{server: server, kind: kind, round: r, clients: cfg.ServeClients,
					duration: cfg.ServeDuration, bulk: cfg.ServeBulk, want: want, prog: progs[server], timeout: cfg.CellTimeout}
				s := sr.run(ctx)
				sv.Samples = append(sv.Samples, s)
				status := fmt.Sprintf("%8.0f conns/s (%d), server CPU %.2f ms/conn", s.Rate, s.Conns, 1e3*s.CPUSec/float64(max(1, s.Conns)))
				if kind == ServeBulk {
					status = fmt.Sprintf("%8.0f MB/s, server CPU %.2f s/GB", s.Rate, s.CPUSec/(float64(s.Bytes)/1e9))
				}
				if s.Err != "" {
					status = "FAILED: " + s.Err
				}
				fmt.Fprintf(log, "serve r%d/%d %-9s %-8s %s\n", r+1, cfg.ServeRounds, kind, server, status)
			}
		}
	}
	sv.Summary = summariseServe(sv.Samples)
	return nil
}

// summariseServe summarises the serve samples; pipeloop's cells also get
// their rate over socat's in the same round.
func summariseServe(samples []ServeSample) []*ServeSummary {
	type key struct{ server, kind string }
	socat := map[struct {
		kind  string
		round int
	}]float64{}
	for _, s := range samples {
		if s.Server == ServeSocat && s.Err == "" {
			socat[struct {
				kind  string
				round int
			}{s.Kind, s.Round}] = s.Rate
		}
	}
	var out []*ServeSummary
	for _, kind := range []string{ServeRate, ServeBulk} {
		for _, server := range []string{ServePipeloop, ServeSocat} {
			ss := &ServeSummary{Server: server, Kind: kind}
			var rate, cpu, vs []float64
			for _, s := range samples {
				if s.Server != server || s.Kind != kind {
					continue
				}
				if s.Err != "" {
					ss.Failures = append(ss.Failures, fmt.Sprintf("round %d: %s", s.Round+1, s.Err))
					continue
				}
				ss.Rounds++
				rate = append(rate, s.Rate)
				if kind == ServeRate {
					cpu = append(cpu, 1e3*s.CPUSec/float64(max(1, s.Conns)))
				} else {
					cpu = append(cpu, s.CPUSec/(float64(s.Bytes)/1e9))
				}
				if peer := socat[struct {
					kind  string
					round int
				}{kind, s.Round}]; server == ServePipeloop && peer > 0 {
					vs = append(vs, s.Rate/peer)
				}
			}
			if ss.Rounds == 0 && len(ss.Failures) == 0 {
				continue
			}
			ss.Rate, ss.CPU, ss.VsSocat = stat(rate), stat(cpu), stat(vs)
			out = append(out, ss)
		}
	}
	return out
}

// writeServe is the report's serve-mode section.
func (res *Results) writeServe(p printf) {
	p("## Serve mode: pipeloop serve against socat\n\n")
	st := &res.Serve
	if len(st.Summary) == 0 {
		p("%s.\n\n", cmp.Or(st.Note, "not measured"))
		return
	}
	p("- `pipeloop serve --listen 127.0.0.1:PORT --log off cat` against `socat -t 5 TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr,fork,backlog=4096 EXEC:cat` ")
	p("(socat's default backlog of 5 would drop SYNs, pipeloop's is 4096; by default socat waits only 0.5 s for cat's output after the client's half-close, and drops the echo when cat starts slower than that). Both start one `cat` per connection. Loopback; the clients are the harness's goroutines, on the same %d CPUs as the servers.\n", res.Machine.NumCPU)
	p("- Every cell starts a fresh server on a free port, waits until it echoes a byte, measures, waits for it to reap its children, then stops it (SIGTERM) and reaps it. %d round(s); in each the two servers alternate, and which goes first alternates by round.\n", st.Rounds)
	p("- **short connections**: %d clients, each for %v in a loop: connect, send %d B, half-close, read the echo, check it, close. conns/s = connections completed / wall time.\n", st.Clients, time.Duration(st.Seconds*float64(time.Second)), serveMsg)
	p("- **bulk**: one connection sends %s while reading it back; length and SHA-256 checked. MB/s = 10⁶ bytes each way per second.\n", bytesName(st.Bulk))
	p("- **server CPU**: user+sys of the server and the children it reaped (every `cat`, and for socat its per-connection processes), from wait4.\n")
	p("- Median (min–max) over rounds; **pipeloop ÷ socat** is taken per round.\n\n")
	p("| measurement | server | rate | server CPU | pipeloop ÷ socat |\n|---|---|---|---|---|\n")
	for _, s := range st.Summary {
		what, unit, cpuUnit := "short connections", "conns/s", "ms/conn"
		if s.Kind == ServeBulk {
			what, unit, cpuUnit = "bulk "+bytesName(st.Bulk), "MB/s", "s/GB"
		}
		if !s.Rate.Valid() {
			p("| %s | %s | failed: %s | — | — |\n", what, s.Server, cellEscape(lastLines(s.Failures[0], 1)))
			continue
		}
		p("| %s | %s | %s %s | %s %s | %s |\n", what, s.Server, statStr(s.Rate, "%.0f"), unit,
			statStr(s.CPU, "%.2f"), cpuUnit, statStr(s.VsSocat, "%.2f"))
	}
	p("\n")
}
