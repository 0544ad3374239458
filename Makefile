# pipeloop — see README.md. `make help` lists the targets.
GO      ?= go
BIN     := bin/pipeloop
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
PREFIX  ?= /usr/local
DESTDIR ?=

.DEFAULT_GOAL := help
.PHONY: help build build-pipeloop install demo test test-short fuzz-short soak bench-micro lint generate deps clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-14s %s\n", $$1, $$2}'

build: build-pipeloop ## build bin/pipeloop and the example daemons (bin/echod, gzipd, upperproxy, uniqhttp)
	$(GO) build -o bin/ ./examples/echod ./examples/gzipd ./examples/upperproxy ./examples/uniqhttp

# build-pipeloop builds bin/pipeloop alone, stamped with the version
# (git describe) that --version prints.
build-pipeloop:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/pipeloop

install: build-pipeloop ## build bin/pipeloop, copy it to DESTDIR/PREFIX/bin (PREFIX=/usr/local)
	install -d '$(DESTDIR)$(PREFIX)/bin'
	install -m 0755 $(BIN) '$(DESTDIR)$(PREFIX)/bin/pipeloop'

demo: build ## 1 GiB dd → pipeloop → dd, pinned and interleaved: the README's ratios in ~15 s
	@scripts/demo.sh $(BIN)

test: ## unit and end-to-end tests with the race detector (CI runs this)
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 9m ./...
	scripts/fuzz-short.sh 10

fuzz-short: ## run every fuzz target for 10 s (part of test)
	scripts/fuzz-short.sh 10

bench-micro: ## Go micro-benchmarks: ring, copy and splice paths, loop (allocs reported)
	$(GO) test -run '^$$' -bench . -benchmem ./internal/fdops ./loop ./relay

soak: ## thousands of short random pipelines and 10 GiB through a long one (minutes; not in CI)
	scripts/soak.sh

test-short: ## the tests without the 100 MiB payloads and soak-like cases
	$(GO) test -short -count=1 ./...

# LINT_SKIP_ARCH: GOARCHes lint does not compile for (none now).
LINT_SKIP_ARCH ?=

lint: ## go vet, gofmt, the go.mod tidiness check, and a compile for every Linux GOARCH
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	@for arch in $$($(GO) tool dist list | sed -n 's|^linux/||p'); do \
		case " $(LINT_SKIP_ARCH) " in *" $$arch "*) echo "lint: linux/$$arch skipped (LINT_SKIP_ARCH)"; continue;; esac; \
		echo "GOARCH=$$arch go build ./..."; \
		GOARCH=$$arch $(GO) build -o /dev/null ./... || exit 1; \
	done

generate: ## regenerate generated code (eBPF objects need clang: make deps)
	$(GO) generate ./...

deps: ## install optional extras from Debian: benchmark peers, clang/libbpf for eBPF
	apt-get update
	apt-get install -y pv socat mbuffer tmux strace clang llvm libbpf-dev

clean: ## remove build output
	rm -rf bin out

-include bench.mk
