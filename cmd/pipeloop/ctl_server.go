//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The control socket: a running pipeloop listens on the abstract unix
// socket "@pipeloop/PID" (no file to clean up; gone with the process; in
// the network namespace, not the file system) for pipeloop ctl. A client
// must run as the same user, or root: SO_PEERCRED says who connected, and
// anyone else is refused before a byte is read.
//
// Protocol: one request line, one answer, then the server closes.
//
//	stats            → the --stats tables now
//	rate-limit BPS   → "ok: N links limited to BPS bytes a second" (0 lifts)
//
// An answer that starts with "error: " is a refusal.

// ctlAddr is the control socket's address for pid.
func ctlAddr(pid int) string { return "@pipeloop/" + strconv.Itoa(pid) }

// ctlTimeout bounds one request: a client that connects and says nothing
// holds nothing for longer.
const ctlTimeout = 5 * time.Second

// startCtlServer listens for pipeloop ctl until stop.
func startCtlServer(v *live) (stop func(), err error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: ctlAddr(os.Getpid()), Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				return // closed by stop
			}
			serveCtl(v, c) // one at a time: requests are rare and short
		}
	}()
	return func() { ln.Close(); <-stopped }, nil
}

// serveCtl answers one connection.
func serveCtl(v *live, c *net.UnixConn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(ctlTimeout))
	// The request is read before a refusal too: closing on unread bytes
	// would reset the connection, and the client would never see why.
	line, err := bufio.NewReader(io.LimitReader(c, 4096)).ReadString('\n')
	if err != nil {
		return
	}
	if err := allowedPeer(c); err != nil {
		fmt.Fprintf(c, "error: %v\n", err)
		return
	}
	c.Write(answerCtl(v, strings.TrimSpace(line)))
}

// allowedPeer checks that the peer runs as pipeloop's user or as root.
func allowedPeer(c *net.UnixConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	rc.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if cerr != nil {
		return os.NewSyscallError("getsockopt(SO_PEERCRED)", cerr)
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("uid %d may not control a pipeloop of uid %d", cred.Uid, os.Getuid())
	}
	return nil
}

// answerCtl carries out one request.
func answerCtl(v *live, req string) []byte {
	verb, arg, _ := strings.Cut(req, " ")
	switch verb {
	case "stats":
		var table []byte
		if err := v.do(func() { table = v.table() }); err != nil {
			return []byte("error: " + err.Error() + "\n")
		}
		return table
	case "rate-limit":
		bps, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || bps < 0 {
			return []byte(fmt.Sprintf("error: bad rate %q\n", arg))
		}
		var n int
		if err := v.do(func() { n = v.setRate(bps) }); err != nil {
			return []byte("error: " + err.Error() + "\n")
		}
		if bps == 0 {
			return []byte(fmt.Sprintf("ok: %d links unlimited\n", n))
		}
		return []byte(fmt.Sprintf("ok: %d links limited to %d bytes a second\n", n, bps))
	}
	return []byte(fmt.Sprintf("error: unknown request %q\n", verb))
}
