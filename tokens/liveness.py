"""Whether the process a run names (`host:pid`) is still alive, where this machine can tell."""

import os
import socket


def process_is_gone(executed_by: str) -> bool:
    """True only when the run's process was on this host and no process has its id now. Another
    host's process cannot be seen from here: its heartbeat decides (RUN_STALE_AFTER)."""
    host, _, pid = executed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isascii() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def this_process() -> str:
    """How a run names its executor: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]
