//go:build linux && amd64

package trace

// Marked reports whether thread tid is marked watched in tr's BPF bitmap.
func Marked(tr *Tracer, tid int) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.tids.marked(tid)
}
