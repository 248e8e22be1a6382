"""One outbound call's CPU: `connectors.http.send` (the seam every connector type uses) against the
layers under it, to the local sink of benchmarks/sink.py at 0 ms, in this one thread.

Rows, each the best of `--rounds` rounds of `--calls` POSTs of the same small JSON body on one
keep-alive connection (CPU ms per call from `time.thread_time`):

- `connectors.http.send`: everything a worker's action thread pays per delivery in the seam (egress
  and TLS/proxy lookups, requests' request preparation and adapter, the capped read, the Response);
- `requests adapter.send`: the prepared request sent by requests' adapter alone;
- `urllib3 urlopen`: the adapter's connection pool called directly;
- `http.client`: the standard library's connection, the floor for a Python client.

The sink runs in its own process; nothing leaves 127.0.0.1. `LOG_LEVEL` is taken from the
environment as the service takes it (the seam logs one line per call at DEBUG).

    .venv/bin/python -m benchmarks.http_send
    .venv/bin/python -m benchmarks.http_send --calls 4000 --rounds 3
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BODY = {"alert": "benchmark", "text": "hello " * 10}


def best_ms(call, calls: int, rounds: int) -> float:
    for _ in range(max(1, calls // 10)):
        call()
    best = float("inf")
    for _ in range(rounds):
        started = time.thread_time()
        for _ in range(calls):
            call()
        best = min(best, (time.thread_time() - started) / calls * 1000)
    return best


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3000, help="calls per round (default 3000)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds per row; the best is printed (default 3)"
    )
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="http-send-"))
    try:
        config = workdir / "kibana.yml"
        config.write_text("connectors.network.allowPrivateAddresses: true\n")  # the sink is on loopback
        os.environ.update(
            {
                "CONNECTORS_VAR_DIR": str(workdir),
                "CONNECTORS_CONFIG": str(config),
                "DJANGO_SETTINGS_MODULE": "connectors_project.settings",
                "CONNECTORS_ENCRYPTION_KEYS": os.environ.get(
                    "CONNECTORS_ENCRYPTION_KEYS", "benchmark-key-benchmark-key-benchmark-key"
                ),
            }
        )
        import django

        django.setup()
        from benchmarks.sink import Sink
        from connectors import http as seam
        from connectors.conf import get_config

        with Sink(latency_ms=0) as sink:
            settings = get_config()
            url = sink.url + "/hook"
            data = json.dumps(BODY, separators=(",", ":")).encode()
            headers = {"Content-Type": "application/json", "User-Agent": seam.USER_AGENT}
            session = seam._session(seam.tls_for(url, settings, None), None, 64)
            adapter = session.get_adapter(url)

            def via_seam():
                seam.send("POST", url, settings=settings, json=BODY)

            def via_adapter():
                prepared = seam._prepare(session, "POST", url, headers, data, None, None)
                response = adapter.send(prepared, stream=True, timeout=30, verify=True, cert=None, proxies={})
                response.raw.read()
                response.close()

            prepared = seam._prepare(session, "POST", url, headers, data, None, None)
            pool = adapter.get_connection_with_tls_context(prepared, True, proxies={}, cert=None)

            def via_urllib3():
                response = pool.urlopen(
                    "POST", "/hook", body=data, headers=prepared.headers, redirect=False,
                    assert_same_host=False, preload_content=False, decode_content=False, retries=False,
                    timeout=30,
                )  # fmt: skip
                response.read()
                response.release_conn()

            parts = urlsplit(url)
            connection = http.client.HTTPConnection(parts.hostname, parts.port)

            def via_http_client():
                connection.request("POST", "/hook", body=data, headers=headers)
                connection.getresponse().read()

            load = os.getloadavg()
            print(
                f"one POST to the local sink (0 ms), CPU ms per call, best of {args.rounds} x {args.calls}; "
                f"{os.cpu_count()} CPUs, load average {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}"
            )
            for label, call in (
                ("connectors.http.send", via_seam),
                ("requests adapter.send (prepared here)", via_adapter),
                ("urllib3 urlopen (the adapter's pool)", via_urllib3),
                ("http.client", via_http_client),
            ):
                print(f"{label:40} {best_ms(call, args.calls, args.rounds):7.3f}")
            connection.close()
            stats = sink.stats()
            print(f"sink: {stats['deliveries']} deliveries on {stats['connections']} connection(s)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
