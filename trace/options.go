package trace

// Options configures a Tracer.
type Options struct {
	// FollowChildren watches every process forked by a watched process
	// (from the moment New returns), recursively. Threads are always
	// followed: a watched process is a thread group.
	FollowChildren bool
}
