//go:build linux

package trace_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/pipeloop/pipeloop/trace"
)

// BenchmarkDDPipeline measures the tracer's cost on a pipe-bound pipeline,
// dd if=/dev/zero bs=64k count=1024 | dd of=/dev/null bs=64k:
// off (no tracer), loaded (attached, pipeline not watched), watched (the
// benchmark process is watched and the pipeline followed as its children).
// Compare with benchstat over -count=10; other load on the machine shows.
func BenchmarkDDPipeline(b *testing.B) {
	const blocks = 1024
	for _, mode := range []string{"off", "loaded", "watched"} {
		b.Run(mode, func(b *testing.B) {
			if mode != "off" {
				tr := newTracer(b, trace.Options{FollowChildren: true})
				if mode == "watched" {
					if err := tr.Watch(os.Getpid()); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.SetBytes(blocks * blockSize)
			b.ReportAllocs()
			for b.Loop() {
				cmd := exec.Command("sh", "-c", "dd if=/dev/zero bs=64k count=1024 status=none | dd of=/dev/null bs=64k status=none")
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
			}
		})
	}
}
