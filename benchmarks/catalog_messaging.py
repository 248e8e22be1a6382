"""Throughput of the messaging types against local servers: SMTP (plain and STARTTLS) and HTTP types.

Run: .venv/bin/python benchmarks/catalog_messaging.py [--count 200]
Prints sends per second and latency percentiles for each path. Everything listens on 127.0.0.1.
"""

import argparse
import logging
import os
import ssl
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectors_project.settings")

import django

django.setup()

import trustme  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

from connectors import registry  # noqa: E402
from connectors.base import ExecutionContext  # noqa: E402
from connectors.settings_file import parse_config_dict  # noqa: E402


class _Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


class _PortZero(Controller):
    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        return super()._trigger_server()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else the stand-in server, not the client, sets the pace (40 ms ACKs)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"status":"success","took":0.1,"requestId":"r","result":"ok"}'
        status = 202 if "enqueue" in self.path or "alerts" in self.path else 200
        if "slack" in self.path:
            body = b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def measure(label, count, fn):
    latencies = []
    started = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        result = fn()
        latencies.append((time.perf_counter() - t0) * 1000)
        if result is not None and getattr(result, "status", "ok") != "ok":
            raise SystemExit(f"{label}: {result}")
    elapsed = time.perf_counter() - started
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(f"{label:<34} {count / elapsed:8.1f} sends/s   p50 {p50:6.2f} ms   p95 {p95:6.2f} ms")


def context(type_id, config, secrets, params, settings):
    connector_type = registry.get(type_id)
    return connector_type, ExecutionContext(
        connector_id="bench",
        connector_name="bench",
        config=connector_type.validate_config(config, settings),
        secrets=connector_type.validate_secrets(secrets, settings),
        params=connector_type.validate_params(params, settings),
        settings=settings,
        source="action",
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    count = parser.parse_args().count
    logging.disable(logging.INFO)  # one log line per send would be the loudest thing measured

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    plain = _PortZero(_Sink(), hostname="127.0.0.1", port=0)
    starttls = _PortZero(_Sink(), hostname="127.0.0.1", port=0, tls_context=server_context)
    plain.start()
    starttls.start()
    http_server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{http_server.server_address[1]}"
    settings = parse_config_dict(
        {
            "connectors.network.allowPrivateAddresses": True,
            "xpack.actions.enableFooterInEmail": True,
            "xpack.actions.customHostSettings": [
                {
                    "url": f"smtp://127.0.0.1:{starttls.port}",
                    "ssl.certificateAuthoritiesData": ca.cert_pem.bytes().decode(),
                }
            ],
        }
    )
    email_params = {"to": ["a@example.com"], "subject": "s", "message": "**hello** https://example.com"}
    runs = {
        "email, plain SMTP": context(
            ".email",
            {"host": "127.0.0.1", "port": plain.port, "from": "f@example.com", "hasAuth": False},
            {},
            email_params,
            settings,
        ),
        "email, STARTTLS (verified)": context(
            ".email",
            {"host": "127.0.0.1", "port": starttls.port, "from": "f@example.com", "hasAuth": True},
            {"user": "u", "password": "p"},
            email_params,
            settings,
        ),
        "pagerduty": context(
            ".pagerduty", {"apiUrl": f"{base}/v2/enqueue"}, {"routingKey": "k"}, {"summary": "s"}, settings
        ),
        "slack (webhook)": context(".slack", {}, {"webhookUrl": f"{base}/slack"}, {"message": "m"}, settings),
        "opsgenie createAlert": context(
            ".opsgenie",
            {"apiUrl": base},
            {"apiKey": "k"},
            {"subAction": "createAlert", "subActionParams": {"message": "m"}},
            settings,
        ),
    }
    # STARTTLS with auth needs a server that offers AUTH; aiosmtpd without an authenticator refuses it,
    # so that run goes without credentials but with full verification through the per-host CA.
    connector_type, ctx = runs["email, STARTTLS (verified)"]
    ctx.secrets = {"user": None, "password": None, "clientSecret": None}
    ctx.config["hasAuth"] = False
    print(f"{count} sends each, one at a time, against servers on 127.0.0.1")
    for label, (connector_type, ctx) in runs.items():
        measure(label, count, lambda ct=connector_type, c=ctx: ct.run(c))
    plain.stop()
    starttls.stop()
    http_server.shutdown()


if __name__ == "__main__":
    main()
