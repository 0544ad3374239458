package trace

// Regenerate stall_x86_bpfel.go and stall_x86_bpfel.o from stall.bpf.c.
// Needs clang, llvm-strip and the libbpf headers (Debian: clang llvm libbpf-dev).
//go:generate go tool bpf2go -tags linux -target amd64 -type stall_key -type stall_val stall stall.bpf.c -- -Wall -Werror
