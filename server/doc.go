// Package server turns a loop into a network daemon: it accepts
// connections on a listening socket registered in the loop and gives each
// one its own pipeline of child processes, with the connection as the
// pipeline's input and output — inetd, or socat TCP-LISTEN,fork EXEC:,
// served by one locked thread instead of a goroutine (or a process) per
// connection.
//
// The pieces can be used separately: Listen/Listener is a nonblocking
// listening socket whose accepted connections are handed to a callback on
// the loop goroutine; Server adds a relay.Pipeline per connection (through
// relay.PipelineConfig's In and Out), connection limits, idle timeouts,
// graceful shutdown and counters.
//
// Listen also adopts an inherited listening socket: "systemd" or
// "systemd:NAME" for systemd socket activation (LISTEN_PID, LISTEN_FDS,
// LISTEN_FDNAMES), "fd:N" for any other (see ListenFD). A Dialer is the
// other way round: a nonblocking connect completed on the loop, for a
// proxy's backend (see relay.NewProxy); a dial still pending when the loop
// stops is answered with an error wrapping os.ErrClosed, its socket
// closed, so its done runs exactly once.
//
// # Threading contract
//
// A Listener and a Server belong to the loop they were started on, like
// the relay.Relay they use: every method must be called on the loop
// goroutine (from a handler, a timer, a posted function) or before
// loop.Run. Their callbacks (AcceptFunc, Config.OnStart, OnEnd, OnError,
// Prepare) run on the loop goroutine and must not block. From another
// goroutine — a signal handler, an HTTP handler serving metrics — use
// loop.Post:
//
//	l.Post(func() { st := srv.Stats(); reply <- st })
//
// Neither creates goroutines or threads: all socket and pipe I/O happens
// on the loop's locked thread, the child processes are watched through
// pidfds in the same epoll set, and timers (idle checks, SIGKILL after
// SIGTERM, the shutdown grace period) live in the loop's timer heap.
//
// # Zero values
//
// Listener, Server, Dialer and Conn are made by Listen (or ListenFD), New,
// NewDialer and the server. Their zero values are safe but inert: they
// never touch fd 0 (under inetd or socket activation, a client's socket),
// the methods that can fail (Listener.Close and Serve, Server.Shutdown,
// Dialer.Dial) return an error wrapping os.ErrInvalid, FD reports -1, and
// the rest report zero.
//
// # Connection lifecycle
//
// See Conn. Half-close works both ways: a client's shutdown(SHUT_WR)
// gives stage 1 end of file, and stage N's end of file becomes
// shutdown(SHUT_WR) to the client once every byte has been sent. A client
// that goes away (a reset, or a write to it failing) has its stages
// terminated; stages are always reaped, so no zombie and no fd is left.
//
// # Memory
//
// An idle connection holds no buffer: its links take a ring from the
// relay's pool only while data is in flight, and with a pipe at one end
// (always the case here) the default data path is splice(2), which needs
// no ring at all. What remains is bookkeeping: see the measurement in
// TestIdleConnHeap.
package server
