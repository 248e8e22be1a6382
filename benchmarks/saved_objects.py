"""Export and import throughput for connectors, on a throw-away SQLite database.

    .venv/bin/python benchmarks/saved_objects.py [N]

Prints objects per second for: export, import into an empty space, import with overwrite, import as
new copies, and export/import with a passphrase (scrypt once per file).
"""

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORK = tempfile.mkdtemp(prefix="connectors-bench-")
os.environ.setdefault("CONNECTORS_VAR_DIR", WORK)
os.environ["DATABASE_URL"] = f"sqlite:///{WORK}/bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectors_project.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from connectors.models import Connector, Space  # noqa: E402
from connectors.saved_objects import ImportOptions, export_objects, import_objects, to_ndjson  # noqa: E402


def timed(label, count, fn):
    started = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - started
    print(f"{label:<44} {count:>6} objects  {elapsed * 1000:>8.1f} ms  {count / elapsed:>9.0f} objects/s")
    return result


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    call_command("migrate", verbosity=0)
    space = Space.ensure_default()
    target = Space.objects.create(id="target", name="Target")
    for n in range(count):
        connector = Connector(
            space=space,
            name=f"hook {n}",
            connector_type_id=".webhook",
            config={"url": f"https://hooks.example/{n}", "hasAuth": True},
        )
        connector.set_secrets({"user": "u", "password": f"p{n}"})
        connector.save()

    lines = timed("export (type action)", count, lambda: export_objects(space, types="action"))
    data = to_ndjson(lines).encode()
    print(f"{'file size':<44} {len(data) / 1024:>15.1f} KiB")
    timed("import into an empty space", count, lambda: import_objects(target, data, ImportOptions()))
    timed(
        "import again with overwrite",
        count,
        lambda: import_objects(target, data, ImportOptions(overwrite=True)),
    )
    timed(
        "import as new copies",
        count,
        lambda: import_objects(target, data, ImportOptions(create_new_copies=True)),
    )
    secret_lines = timed(
        "export with a passphrase",
        count,
        lambda: export_objects(space, types="action", passphrase="bench pass"),
    )
    Connector.objects.filter(space=target).delete()
    secret_data = to_ndjson(secret_lines).encode()
    result = timed(
        "import with the passphrase",
        count,
        lambda: import_objects(target, secret_data, ImportOptions(passphrase="bench pass")),
    )
    assert result["successCount"] == count, result.get("errors", [])[:3]


if __name__ == "__main__":
    main()
