package relay

import "github.com/pipeloop/pipeloop/internal/fdops"

// WithOps returns o with its system-call seam set to ops: the fault
// injection tests use it; the seam is not part of the public API.
func WithOps(o Options, ops fdops.Ops) Options {
	o.ops = ops
	return o
}

// TransformExited is closed once the worker goroutine of k's transform
// has returned; nil for a link without a transform.
func TransformExited(k *Link) <-chan struct{} {
	if k.xf == nil {
		return nil
	}
	return k.xf.exited
}

// NoURing makes r behave as where io_uring is unavailable: links that
// would move small messages through it stay on epoll.
func NoURing(r *Relay) { r.noRing = true }
