package bench

import (
	"errors"
	"fmt"
	"io"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// The tracing-overhead section's floor: what any eBPF tracer hooked on
// sched_switch costs before its program does anything. The harness loads a
// program that returns at once, attaches it where `pipeloop trace`
// attaches its own (tp_btf/sched_switch) and times the same transfer. The
// traced transfer's overhead minus the floor's is what the tracer's
// program body costs; the floor itself is the kernel's and the machine's
// price of calling a BPF program on every context switch.

// emptySwitch is an attached empty sched_switch program.
type emptySwitch struct {
	prog *ebpf.Program
	link link.Link
}

// AttachEmptySwitch loads and attaches the floor program; Close detaches
// it. Exported for cmd/floorhold, which holds it for scripts.
func AttachEmptySwitch() (io.Closer, error) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "floor_switch",
		Type:         ebpf.Tracing,
		AttachType:   ebpf.AttachTraceRawTp,
		AttachTo:     "sched_switch",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		License:      "GPL",
	})
	if err != nil {
		return nil, fmt.Errorf("load an empty sched_switch program: %w", err)
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: prog})
	if err != nil {
		prog.Close()
		return nil, fmt.Errorf("attach an empty sched_switch program: %w", err)
	}
	return &emptySwitch{prog: prog, link: l}, nil
}

func (e *emptySwitch) Close() error {
	return errors.Join(e.link.Close(), e.prog.Close())
}
