"""Worker threads carry their Python names at the OS level (`top -H`, /proc/<pid>/task/*/comm), so
the benchmark and an operator can tell the action pool, the journal and the poller apart."""

import sys
import threading
from pathlib import Path

import pytest

from actions.journal import name_os_thread


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="OS thread names are read from /proc")
def test_a_thread_named_at_the_os_level_shows_its_python_name_in_proc():
    seen = {}

    def run():
        name_os_thread()
        seen["comm"] = Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text().strip()

    thread = threading.Thread(target=run, name="actions-journal")
    thread.start()
    thread.join()
    assert seen["comm"] == "actions-journal"
