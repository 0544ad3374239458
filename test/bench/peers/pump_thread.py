#!/usr/bin/env python3
"""Relay stdin to stdout with one thread doing blocking reads and writes.

This is the "thread + blocking I/O" pump from the seed question, written as a
stdin-mode filter (A | pump_thread.py | B) so every relay in the benchmark has
the same topology. The pump runs in its own threading.Thread, as in the seed;
the main thread only joins it.

    pump_thread.py [--read-size BYTES]   (default 65536)

Reads use os.read, which returns as soon as any bytes are available, so the
pump also forwards small messages at once (the latency benchmark relies on it).
"""
import argparse
import os
import sys
import threading


def pump(src: int, dst: int, read_size: int, result: list) -> None:
    total = 0
    try:
        while True:
            buf = os.read(src, read_size)
            if not buf:
                break
            view = memoryview(buf)
            while view:
                n = os.write(dst, view)
                view = view[n:]
            total += len(buf)
    except BrokenPipeError as e:
        result.append(e)
    result.append(total)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--read-size", type=int, default=65536)
    args = ap.parse_args()
    result: list = []
    t = threading.Thread(target=pump, args=(0, 1, args.read_size, result))
    t.start()
    t.join()
    errors = [r for r in result if isinstance(r, Exception)]
    if errors:
        print(f"pump_thread: {errors[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
