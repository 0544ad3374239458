#!/usr/bin/env python3
"""Relay stdin to stdout with select() and O_NONBLOCK in one thread.

This is the "select + non-blocking I/O" pump from the seed question, written
as a stdin-mode filter (A | pump_select.py | B). Like the seed it holds at
most one pending buffer: select() waits for stdin only while that buffer is
empty and for stdout only while it is not.

    pump_select.py [--io-size BYTES]    (default select.PIPE_BUF)

With --io-size <= PIPE_BUF every nonblocking write to the pipe is atomic: it
writes everything or fails with EAGAIN. With a larger size (the seed's 64 KiB
variant) a write may be partial or fail with EAGAIN; both are tolerated by
keeping the unwritten tail and waiting for select() again, so no byte is lost
(the seed instead caught the exception and went on).
"""
import argparse
import fcntl
import os
import select
import sys


def set_nonblocking(fd: int) -> None:
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)


def relay(src: int, dst: int, io_size: int) -> None:
    set_nonblocking(src)
    set_nonblocking(dst)
    pending = b""  # bytes read from src and not yet written to dst
    eof = False
    while not eof or pending:
        rlist = [src] if not pending and not eof else []
        wlist = [dst] if pending else []
        readable, writable, _ = select.select(rlist, wlist, [])
        if readable:
            try:
                pending = os.read(src, io_size)
            except BlockingIOError:
                continue
            if not pending:
                eof = True
        if writable:
            try:
                n = os.write(dst, pending)
            except BlockingIOError:
                continue  # less room than asked for: wait for select again
            pending = pending[n:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--io-size", type=int, default=select.PIPE_BUF)
    args = ap.parse_args()
    try:
        relay(0, 1, args.io_size)
    except BrokenPipeError as e:
        print(f"pump_select: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
