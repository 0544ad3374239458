// Command benchrun runs the pipeloop benchmark: throughput against a direct
// pipe and peer relays, ping-pong latency, and writes report.md,
// results.json and charts. `make bench`, `make bench-quick` and
// `make bench-smoke` run it from the repository root.
//
//	go run ./test/bench/cmd/benchrun -preset quick
//
// Run it with -h for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pipeloop/pipeloop/test/bench"
)

func main() {
	// Re-executed as the middle-process wrapper (see bench.WrapEnv).
	if out := os.Getenv(bench.WrapEnv); out != "" {
		code, err := bench.RunWrapper(out, os.Args[1:])
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchrun:", err)
		}
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("benchrun", flag.ContinueOnError)
	preset := fs.String("preset", "quick", "full, quick or smoke")
	repo := fs.String("repo", "", "repository root (default: nearest directory with go.mod)")
	pipeloop := fs.String("pipeloop", "bin/pipeloop", "pipeloop binary, relative to the repository root")
	out := fs.String("out", "docs/bench", "output directory, relative to the repository root (empty: write nothing)")
	blocks := fs.String("blocks", "", "override block sizes, e.g. 4K,64K")
	rounds := fs.Int("rounds", 0, "override rounds per block size")
	volume := fs.String("bytes", "", "override volume per cell, e.g. 1G")
	methods := fs.String("methods", "", "comma-separated throughput methods (default all)")
	latMethods := fs.String("lat-methods", "", "comma-separated latency methods (default all)")
	latTrips := fs.Int("lat-trips", 0, "override timed ping-pong round trips")
	latRounds := fs.Int("lat-rounds", -1, "override latency rounds (0 skips latency)")
	pins := fs.String("pins", "", "override pin modes: unpinned,pinned")
	serveRounds := fs.Int("serve-rounds", -1, "override serve-mode rounds (0 skips serve mode)")
	scaleRounds := fs.Int("scale-rounds", -1, "override scale rounds (0 skips scale)")
	serveOnly := fs.Bool("serve-only", false, "run only the serve-mode section (throughput, latency and scale skipped)")
	traceRounds := fs.Int("trace-rounds", -1, "override tracing-overhead rounds (0 skips the section)")
	traceBytes := fs.String("trace-bytes", "", "override bytes per tracing-overhead transfer, e.g. 4G")
	traceOnly := fs.Bool("trace-only", false, "run only the tracing-overhead section (throughput, latency, scale and serve mode skipped)")
	latOnly := fs.Bool("lat-only", false, "run only the latency section (throughput, scale, serve mode and tracing overhead skipped)")
	chart := fs.String("chart", "svg", "chart format: svg or png")
	render := fs.String("render", "", "re-render the report and charts of a results.json into -out, measuring nothing")
	list := fs.Bool("list", false, "list the methods and exit")
	ref := fs.String("pipeloop-ref", "", "a second pipeloop binary, measured as latency method pipeloop-ref (opt-in: name it in -lat-methods) to compare two builds in one run")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *list {
		for _, m := range bench.Methods() {
			fmt.Printf("%-18s %-8s %s\n", m.Name, m.Role, m.Desc)
		}
		return nil
	}
	if *render != "" {
		res, err := bench.Load(*render)
		if err != nil {
			return err
		}
		res.Setup.Chart = *chart
		return res.Write(*out)
	}
	cfg, err := bench.Preset(*preset)
	if err != nil {
		return err
	}
	if err := override(&cfg, *blocks, *rounds, *volume, *latTrips, *latRounds, *pins); err != nil {
		return err
	}
	cfg.ChartFormat = *chart
	cfg.Methods, cfg.LatMethods = bench.SplitList(*methods), bench.SplitList(*latMethods)
	if *serveRounds >= 0 {
		cfg.ServeRounds = *serveRounds
	}
	if *scaleRounds >= 0 {
		cfg.ScaleRounds = *scaleRounds
	}
	if *serveOnly {
		cfg.SkipThroughput, cfg.LatRounds, cfg.ScaleKs, cfg.TraceRounds = true, 0, nil, 0
	}
	if *traceRounds >= 0 {
		cfg.TraceRounds = *traceRounds
	}
	if *traceBytes != "" {
		if cfg.TraceBytes, err = bench.ParseSize(*traceBytes); err != nil {
			return err
		}
	}
	if *traceOnly {
		cfg.SkipThroughput, cfg.LatRounds, cfg.ScaleKs, cfg.ServeRounds = true, 0, nil, 0
	}
	if *latOnly {
		cfg.SkipThroughput, cfg.ScaleKs, cfg.ServeRounds, cfg.TraceRounds = true, nil, 0, 0
	}

	root := *repo
	if root == "" {
		if root, err = findRepo(); err != nil {
			return err
		}
	}
	cfg.Tools.Pipeloop = inRepo(root, *pipeloop)
	if *ref != "" {
		cfg.Tools.PipeloopRef = inRepo(root, *ref)
	}
	if *out != "" {
		cfg.OutDir = inRepo(root, *out)
	}
	peers, err := os.MkdirTemp("", "pipeloop-bench-peers-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(peers)
	if err := cfg.Tools.BuildPeers(ctx, root, peers); err != nil {
		return err
	}
	cfg.Log = os.Stderr
	start := time.Now()
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "done in %v\n", time.Since(start).Round(time.Second))
	for _, t := range res.Targets {
		fmt.Fprintf(os.Stderr, "%-18s %s\n", t.Status, t.Name)
	}
	if cfg.OutDir != "" {
		fmt.Fprintf(os.Stderr, "wrote %s\n", filepath.Join(cfg.OutDir, bench.ReportFile))
	}
	return nil
}

func override(cfg *bench.Config, blocks string, rounds int, volume string, latTrips, latRounds int, pins string) error {
	var err error
	if blocks != "" {
		if cfg.Blocks, err = bench.ParseSizes(blocks); err != nil {
			return err
		}
		cfg.Preset = "custom"
	}
	if rounds > 0 {
		cfg.Rounds, cfg.Preset = rounds, "custom"
	}
	if volume != "" {
		if cfg.Bytes, err = bench.ParseSize(volume); err != nil {
			return err
		}
		cfg.Preset = "custom"
	}
	if latTrips > 0 {
		cfg.LatTrips = latTrips
	}
	if latRounds >= 0 {
		cfg.LatRounds = latRounds
	}
	if pins != "" {
		if cfg.Pins, err = bench.ParsePins(pins); err != nil {
			return err
		}
	}
	return nil
}

// findRepo walks up from the working directory to the directory with go.mod.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: pass -repo")
		}
		dir = parent
	}
}

func inRepo(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}
