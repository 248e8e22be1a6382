"""One writer per process on SQLite, and dropping a long-lived thread's broken connection.

SQLite has a single write lock, and a connection that finds it taken sleeps in growing steps (1 ms up to
100 ms) before trying again. With dozens of action threads per worker process that back-off, not the
work, sets the pace. Queuing a process's writers on a Python lock hands the database over without sleeps
(other processes still meet SQLite's own lock). On other databases this is a no-op.
"""

import logging
import threading
from contextlib import contextmanager

from django.db import close_old_connections, connection

logger = logging.getLogger("actions")

_lock = threading.RLock()


@contextmanager
def serialized_writes():
    if connection.vendor != "sqlite":
        yield
        return
    with _lock:
        yield


def release_connection() -> None:
    """Between batches of a long-lived thread: drop this thread's connection if it broke or aged
    out. Checking needs the database; while it is away, the next batch reconnects instead."""
    try:
        close_old_connections()
    except Exception:
        logger.debug("could not check this thread's database connection", exc_info=True)
