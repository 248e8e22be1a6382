"""Parts of the `_enqueue` request measured alone, in this process (unprofiled CPU, best of rounds).

    .venv/bin/python -m benchmarks.rest_parts

Prints, on a throw-away file SQLite database with the settings `make run` uses:
- `resolve()` of the `_enqueue` and `_bulk_enqueue` paths (root and under a space);
- the run's INSERT: `save(force_insert=True)` against `connectors.prepared.PreparedInsert`, and the
  fields' conversion alone;
- the whole in-process Basic `_enqueue` with all middleware, then with each one left out (those the
  request cannot do without are kept), in two passes, to show what each costs.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NEEDED = ("SessionMiddleware", "AuthenticationMiddleware", "KibanaApiMiddleware")


def best_us(function, n: int, rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.thread_time()
        for _ in range(n):
            function()
        best = min(best, (time.thread_time() - started) * 1e6 / n)
    return best


def main() -> None:
    from benchmarks import rest_enqueue

    workdir = Path(tempfile.mkdtemp(prefix="connectors-bench-rest-parts-"))
    try:
        rest_enqueue._setup_django(rest_enqueue._environment(workdir))
        from django.conf import settings
        from django.core.handlers.wsgi import WSGIHandler
        from django.core.management import call_command
        from django.db import connection
        from django.urls import get_resolver
        from django.utils import timezone

        from actions.models import ActionRun
        from benchmarks.sink import Sink

        try:
            from connectors.prepared import PreparedInsert
        except ImportError:  # a checkout from before it: the other figures still compare
            PreparedInsert = None

        call_command("migrate", verbosity=0)
        with Sink(0) as sink:
            prepared = rest_enqueue.prepare(sink.url)
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; CPU of this thread, best of 5")

        resolver = get_resolver()
        for path in (
            "/api/actions/connector/abc-123/_enqueue",
            "/s/marketing/api/actions/connector/abc-123/_enqueue",
            "/api/actions/_bulk_enqueue",
        ):
            resolver.resolve(path)
            print(f"resolve({path}): {best_us(lambda path=path: resolver.resolve(path), 2000):.1f} us")

        def new_run() -> ActionRun:
            return ActionRun(
                space_id="default",
                connector_id="c",
                connector_type_id=".webhook",
                params={"body": '{"id": 1}'},
                max_attempts=3,
                due_at=timezone.now(),
                source="background_task",
            )

        savers = [("save(force_insert=True)", lambda: new_run().save(force_insert=True))]
        if PreparedInsert is not None:
            insert = PreparedInsert(ActionRun)
            savers.append(("PreparedInsert", lambda: insert(new_run())))
        for label, save in savers * 2:
            save()
            print(f"the run's INSERT, {label} (with building the instance): {best_us(save, 300):.0f} us")
        print(f"  building the ActionRun instance: {best_us(new_run, 3000):.0f} us")
        if PreparedInsert is not None:
            run = new_run()

            def convert():
                values = [field.pre_save(run, True) for field in insert.fields]
                return [
                    value if plain and type(value) is str else field.get_db_prep_save(value, connection)
                    for field, plain, value in zip(insert.fields, insert.plain_text, values, strict=True)
                ]

            print(f"  PreparedInsert's conversion of the fields: {best_us(convert, 3000):.0f} us")

        path = f"/api/actions/connector/{prepared['connector_id']}/_enqueue"
        headers = prepared["headers"]["basic"]

        def request(application) -> None:
            statuses = []
            answer = application(
                rest_enqueue._wsgi_environ(path, rest_enqueue._body("parts"), headers),
                lambda status, response_headers, exc_info=None: statuses.append(status),
            )
            b"".join(answer)
            answer.close()
            if not statuses[0].startswith("202"):
                raise SystemExit(f"_enqueue answered {statuses[0]}")

        every = list(settings.MIDDLEWARE)
        variants = [("all middleware", every)] + [
            (f"without {name.rsplit('.', 1)[1]}", [m for m in every if m != name])
            for name in every
            if not name.endswith(NEEDED)
        ]
        print("in-process Basic `_enqueue` (best of 7 rounds of 200), two passes:")
        for _ in range(2):
            for label, middleware in variants:
                settings.MIDDLEWARE = middleware
                application = WSGIHandler()
                for _ in range(30):
                    request(application)
                print(
                    f"  {label:<38} {best_us(lambda a=application: request(a), 200, rounds=7):.0f} us",
                    flush=True,
                )
        settings.MIDDLEWARE = every
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
