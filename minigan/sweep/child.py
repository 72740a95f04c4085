"""What a sweep's run process does before it trains: it stops with the sweep.

A sweep runs each ``minigan train`` as a child process (``sweep._command``). Killed with SIGINT or
SIGTERM, the sweep stops its children itself; killed with ``kill -9`` it cannot, and its children
would train on unseen. So each child asks Linux (``prctl(PR_SET_PDEATHSIG, SIGTERM)``) to be sent
SIGTERM when the sweep dies: the run then saves its checkpoint and exits 143, as on any SIGTERM,
and the next start of the same sweep resumes it. Elsewhere (no prctl) nothing changes.
"""
import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1


def stop_with_parent(parent):
    """SIGTERM this process when its parent (pid ``parent``, the sweep) dies; at once if it has died already."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):              # not Linux: no parent-death signal
        return False
    if prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:                     # the sweep died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)
    return True
