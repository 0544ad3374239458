package relay

// TransformExited is closed once the worker goroutine of k's transform
// has returned; nil for a link without a transform.
func TransformExited(k *Link) <-chan struct{} {
	if k.xf == nil {
		return nil
	}
	return k.xf.exited
}
