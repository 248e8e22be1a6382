"""How long parsing an import file takes as it grows (it must stay linear: a 25 MB file is allowed).

    .venv/bin/python benchmarks/import_parsing.py

Prints the parse time of NDJSON files of 1000, 4000 and 10000 lines of ~2.4 KB each.
"""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectors_project.settings")

import django

django.setup()

from connectors.saved_objects import parse_import_file  # noqa: E402

LINE = json.dumps({"type": "action", "id": "x", "attributes": {"name": "n" * 2400}}) + "\n"

for count in (1000, 4000, 10000):
    data = (LINE * count).encode()
    started = time.perf_counter()
    parse_import_file(data)
    elapsed = time.perf_counter() - started
    print(f"{count:>6} lines  {len(data) / 1024 / 1024:5.1f} MB  {elapsed * 1000:8.1f} ms")
