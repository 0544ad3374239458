#!/usr/bin/env python3
"""rusage-wrap.py LOG TAG CMD [ARG...] — run CMD with this process's stdio
and append "TAG user_s sys_s" (its rusage, µs resolution) to LOG when it
exits; exits with its status. The latency A/B wraps each relay in it to
get CPU per message, which the machine's load moves far less than
latency (see docs/bench/README.md, issue 11)."""
import os, sys
log, tag, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
pid = os.fork()
if pid == 0:
    os.execvp(argv[0], argv)
_, status, ru = os.wait4(pid, 0)
with open(log, "a") as f:
    f.write("%s %.6f %.6f\n" % (tag, ru.ru_utime, ru.ru_stime))
sys.exit(os.waitstatus_to_exitcode(status))
