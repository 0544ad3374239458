//go:build !(linux && amd64)

package trace

// Tracer is not available on this platform: New always fails.
type Tracer struct{}

// New returns an error wrapping ErrUnsupported: the BPF program is built
// for linux/amd64 only.
func New(opts Options) (*Tracer, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	return nil, unsupportedError("no BPF program for this platform")
}

// Watch returns ErrClosed: a Tracer cannot exist here.
func (t *Tracer) Watch(pid int) error { return ErrClosed }

// Watched returns ErrClosed: a Tracer cannot exist here.
func (t *Tracer) Watched() ([]int, error) { return nil, ErrClosed }

// Snapshot returns ErrClosed: a Tracer cannot exist here.
func (t *Tracer) Snapshot() (Report, error) { return Report{}, ErrClosed }

// Close does nothing.
func (t *Tracer) Close() error { return nil }
