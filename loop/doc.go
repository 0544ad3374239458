// Package loop is a single-threaded event loop over epoll: readiness of
// nonblocking file descriptors, cross-goroutine wake-ups through an eventfd,
// timers, and child-process exits through pidfd, all dispatched on one
// goroutine locked to its OS thread.
//
// # Threading contract
//
// A Loop is not safe for concurrent use. Every method except Wake, Post,
// NewNotifier and Stop must be called from the goroutine running Run
// (typically from inside a handler, a timer or a posted function), or
// before Run starts. Wake, Post, NewNotifier, Notifier.Notify and Stop may
// be called from any goroutine at any time, even after Run has returned
// (they then report ErrClosed or do nothing). Handlers, timer functions,
// posted and notified functions run on the loop goroutine, one at a time,
// and must not block: a handler that blocks stalls every fd on the loop.
// Post's queue is bounded (Options.MaxPosted): a goroutine posting faster
// than the loop runs its functions waits for room, as on a full channel.
// A goroutine the loop thread may wait for (a worker joined at close)
// signals the loop with a Notifier instead, which coalesces and never
// waits.
//
// Builds with the race detector (make test) or the pipeloopcheck tag check
// the rule: a loop-only method called from another thread while Run runs
// panics, naming the method. OnLoopThread tells a caller where it is.
//
// # Triggering
//
// Register takes the epoll interest set verbatim, so each registration
// chooses level-triggered (the default) or edge-triggered (EdgeTriggered).
// pipeloop's relay uses edge-triggered registrations, registered once for
// both directions, so backpressure costs no epoll_ctl calls. That choice is
// safe only under this invariant, which the relay keeps:
//
//	After an edge for fd, the handler either moves data until the kernel
//	answers EAGAIN, or remembers that fd is still ready and comes back to
//	it without waiting for another edge.
//
// A handler that stops early and forgets would never hear of that fd again.
// Level-triggered registrations have no such rule but wake the loop for as
// long as the condition holds, so a handler that cannot act (a full buffer)
// must Modify its interest away or the loop spins.
//
// # Ownership and lifetime
//
// The loop owns its epoll fd, its eventfd and every pidfd handed to
// WatchProcess; Run closes them all when it returns. Registered fds belong
// to the caller: Unregister them before closing them (a closed fd whose file
// is still open elsewhere stays in the epoll set). Events carry a slot index
// and a generation, so an event that was already queued for an fd that was
// unregistered during the same wake-up is dropped rather than delivered to a
// new registration that reused the fd number.
//
// Run returns when its context ends or Stop is called; a Loop runs once.
// A Loop comes from New: a zero Loop has no fds, and its methods return an
// error (Stop does nothing) rather than touch fd 0, which its fields would
// name.
//
// # Sleeping
//
// By default the loop sleeps in epoll_wait through the Go runtime's
// blocking-system-call path, like any Go program. With Options.RawWait,
// while events flow it sleeps in a raw epoll_wait that the runtime does not
// see, so it keeps its P and no runtime thread wakes per event; the
// runtime's preemption signal ends such a sleep whenever it needs the P (a
// garbage collection, sysmon), and the loop then sleeps through the
// runtime for a while. A loop busy sleeping raw also passes through the
// scheduler every 5 ms (runtime.Gosched), where other goroutines get the P.
// With one P (GOMAXPROCS=1, a pinned process) other goroutines may
// therefore wait several milliseconds while the loop is busy, which is why
// it is opt-in. Cooperate turns raw sleeps off for a while, for a caller
// whose goroutines must run promptly (a transform worker).
// wait_linux.go has the details and the measurements behind them.
//
// A Sleeper (SetSleeper) sleeps in the loop's place: pipeloop's relay
// installs one that waits in io_uring_enter, with the epoll fd polled
// through the ring, while small messages move through io_uring
// (relay.Options.URing). It follows the same rules, raw or not.
package loop
