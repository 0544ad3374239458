#!/usr/bin/env bash
# Soak test: thousands of short random pipelines, then gigabytes through a
# long one, checking every byte, the exit statuses, fd counts and RSS over
# time. Not part of `make test`; takes a few minutes.
#
#   scripts/soak.sh [RUNS [BYTES]]    defaults: 5000 runs, 10 GiB (10737418240)
#
# The figures are printed as lines starting with "SOAK".
set -euo pipefail
cd "$(dirname "$0")/.."
export PIPELOOP_SOAK=1
export PIPELOOP_SOAK_RUNS="${1:-${PIPELOOP_SOAK_RUNS:-5000}}"
export PIPELOOP_SOAK_BYTES="${2:-${PIPELOOP_SOAK_BYTES:-10737418240}}"
# No -race: the soak measures the real binary's memory and speed.
exec "${GO:-go}" test -count=1 -v -timeout 60m -run '^TestSoak' ./test
