"""How long the admin's connectors pages take to render as a space fills up.

Run: .venv/bin/python benchmarks/admin_pages.py [N ...]   (default 50 500 2000 connectors)
Uses a throw-away SQLite database in a temporary directory; prints the median of 5 renders.
"""

import os
import statistics
import sys
import tempfile
import time

work = tempfile.mkdtemp(prefix="admin-bench-")
os.environ["CONNECTORS_VAR_DIR"] = work
os.environ["DATABASE_URL"] = f"sqlite:///{work}/bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectors_project.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from connectors.models import Connector, Space  # noqa: E402


def median_ms(client, url, runs=5):
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(timings)


def main(sizes):
    call_command("migrate", verbosity=0)
    space = Space.ensure_default()
    user = get_user_model().objects.create_superuser("bench", "", "bench-password")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    print(f"{'connectors':>10}  {'list ms':>8}  {'search ms':>9}  {'sort ms':>8}  {'type grid ms':>12}")
    made = 0
    for size in sizes:
        batch = []
        for i in range(made, size):
            connector = Connector(space=space, name=f"Connector {i:05d}", connector_type_id=".server-log")
            connector.set_secrets({})
            batch.append(connector)
        Connector.objects.bulk_create(batch)
        made = size
        base = "/admin/connectors/connector/"
        print(
            f"{size:>10}  {median_ms(client, base):>8.1f}  {median_ms(client, base + '?q=00042'):>9.1f}"
            f"  {median_ms(client, base + '?sort=-last_run'):>8.1f}  {median_ms(client, base + 'add/'):>12.1f}"
        )


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [50, 500, 2000])
