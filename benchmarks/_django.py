"""Start Django on a throwaway SQLite database (never the real one) for a benchmark script."""

import os
import sys
import tempfile
from pathlib import Path


def setup(name: str, keep: str | None = None) -> Path:
    """Configure settings for a scratch database in a temp directory (or `keep`, reused if present),
    run migrations, and return the database path."""
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    workdir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix=f"{name}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "bench.sqlite3"
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["CONNECTORS_VAR_DIR"] = str(workdir)
    os.environ.setdefault("CONNECTORS_ENCRYPTION_KEYS", "benchmark-key-benchmark-key-benchmark-key")
    os.environ.setdefault("SECRET_KEY", "benchmark")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "connectors_project.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return database
