# Benchmark targets (issue 3). The root Makefile includes this file.
# The harness is test/bench/cmd/benchrun; it writes docs/bench/{report.md,
# results.json,throughput-*.svg} (bench-smoke writes to out/bench-smoke).
# Pass harness flags with BENCH_FLAGS, e.g. BENCH_FLAGS="-bytes 2G -rounds 7";
# `go run ./test/bench/cmd/benchrun -h` lists them.

BENCH_PIPELOOP ?= bin/pipeloop
BENCH_FLAGS    ?=
BENCHRUN       := $(or $(GO),go) run ./test/bench/cmd/benchrun -pipeloop $(BENCH_PIPELOOP)

.PHONY: bench bench-quick bench-smoke deps-bench bench-pipeloop

bench-pipeloop:
	@if [ -d cmd/pipeloop ]; then $(or $(GO),go) build -ldflags '$(LDFLAGS)' -o $(BENCH_PIPELOOP) ./cmd/pipeloop; \
	else echo "bench: cmd/pipeloop not in this tree; pipeloop methods will be skipped"; fi

bench: bench-pipeloop ## full benchmark (15–17 min on 2 vCPUs): all block sizes, 5 rounds, latency, scale, serve mode → docs/bench/
	$(BENCHRUN) -preset full -out docs/bench $(BENCH_FLAGS)

bench-quick: bench-pipeloop ## quick benchmark (< 3 min): 4K and 64K, 5 rounds, scale, serve mode → docs/bench/
	$(BENCHRUN) -preset quick -out docs/bench $(BENCH_FLAGS)

bench-smoke: bench-pipeloop ## benchmark smoke test (< 1 min): 4K only, 1 round, 16 MiB → out/bench-smoke/
	$(BENCHRUN) -preset smoke -out out/bench-smoke $(BENCH_FLAGS)

deps-bench: ## install the benchmark's Debian peers (pv, socat, mbuffer)
	apt-get update
	apt-get install -y pv socat mbuffer
