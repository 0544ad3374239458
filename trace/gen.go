//go:build linux

package trace

// stall_x86_bpfel.go and stall_x86_bpfel.o are generated from stall.bpf.c
// and committed, so building needs no clang. Regenerate with
// `go generate ./trace` (make generate), which needs clang, llvm-strip and
// the libbpf headers (Debian: clang llvm libbpf-dev).
//go:generate go tool bpf2go -tags linux -target amd64 -type stall_key -type stall_val -type proc_info stall stall.bpf.c -- -Wall -Werror -mcpu=v3
