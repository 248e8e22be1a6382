"""benchmarks/web_overhead.py runs the web server as `serve` does and prices each row from /proc."""

import socket
import sys

from benchmarks.web_overhead import Server, measure, trivial_application
from connectors.management.commands.serve import gunicorn_arguments


def test_the_trivial_app_answers_202_with_an_empty_object_after_reading_the_body():
    import io

    body = io.BytesIO(b'{"params": {}}')
    seen = []
    answer = trivial_application({"wsgi.input": body}, lambda status, headers: seen.append(status))
    assert seen == ["202 Accepted"] and answer == [b"{}"] and body.read() == b""


def test_a_row_runs_serve_s_gunicorn_command_line_and_prints_requests_per_second_and_cpu(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    arguments = gunicorn_arguments(f"127.0.0.1:{port}", 1, app="benchmarks.web_overhead:trivial_application")
    assert arguments[arguments.index("--worker-class") + 1] == "gthread"
    assert "--access-logfile" in arguments
    request = ("POST", "/", {"Content-Type": "application/json"}, b"{}")
    with Server([sys.executable, "-m", "gunicorn", *arguments], {}, tmp_path / "server.log") as server:
        server.wait_until_up(port)
        # /proc counts CPU in clock ticks (10 ms): 40 requests (~12 ms) sometimes read as 0 ticks,
        # 1,000 (~0.3 s of the server's CPU) always read as many.
        rate, cpu_ms = measure(server, port, request, 1000, 2, 202).split()
    assert float(rate.replace(",", "")) > 0
    assert float(cpu_ms) > 0, "the server's CPU is read from /proc"
