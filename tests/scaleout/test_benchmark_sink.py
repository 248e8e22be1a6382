"""The benchmark sink (benchmarks/sink.py) counts what it receives correctly: benchmarks and the
scale-out tests rely on its counts of deliveries and duplicates."""

import socket
from urllib.parse import urlsplit

import pytest
import requests

from benchmarks.sink import Sink

pytestmark = [pytest.mark.slow]


def _raw_exchange(url: str, payload: bytes, responses: int) -> bytes:
    split = urlsplit(url)
    with socket.create_connection((split.hostname, split.port), timeout=10) as connection:
        connection.sendall(payload)
        received = b""
        while received.count(b"HTTP/1.1 200 OK") < responses or not received.endswith(b"}"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def test_the_sink_counts_deliveries_and_duplicates_by_header_over_one_keep_alive_connection():
    with Sink(track_header="X-Delivery-Id") as sink:
        session = requests.Session()
        for key in ["a", "b", "a", "c", "a"]:
            response = session.post(sink.url + "/hook", data=b"{}", headers={"X-Delivery-Id": key})
            assert response.status_code == 200
        stats = sink.stats()
    assert stats["deliveries"] == 5
    assert stats["distinct"] == 3
    assert stats["duplicates"] == 2
    assert stats["bytes"] == 10
    assert stats["in_flight"] == 0


def test_the_sink_identifies_messages_by_a_json_path_in_the_body():
    with Sink(track_path="alerts.0.labels.id") as sink:
        for i in (1, 2, 2):
            requests.post(sink.url + "/am", json={"alerts": [{"labels": {"id": str(i)}}]}, timeout=10)
        requests.post(sink.url + "/am", data=b"not json", timeout=10)
        stats = sink.stats()
    assert (stats["deliveries"], stats["distinct"], stats["duplicates"]) == (4, 2, 1)


def test_the_sink_reads_chunked_and_pipelined_requests_and_answers_them_in_order():
    with Sink() as sink:
        payload = (
            b"POST /one HTTP/1.1\r\nHost: sink\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
            b"POST /two?latency_ms=0 HTTP/1.1\r\nHost: sink\r\nContent-Length: 4\r\n\r\nwxyz"
            b"GET /_stats HTTP/1.1\r\nHost: sink\r\nConnection: close\r\n\r\n"
        )
        received = _raw_exchange(sink.url, payload, responses=3)
    assert received.count(b"HTTP/1.1 200 OK") == 3
    # The third answer is the stats, sent after both deliveries were counted.
    assert received.rstrip().endswith(b"}")
    assert b'"deliveries": 2' in received
    assert b'"bytes": 9' in received


def test_reset_zeroes_the_counters_and_sets_the_latency_for_later_deliveries():
    with Sink(latency_ms=0) as sink:
        requests.post(sink.url + "/x", data=b"1", timeout=10)
        after_reset = sink.reset(latency_ms=30)
        requests.post(sink.url + "/x", data=b"22", timeout=10)
        stats = sink.stats()
    assert after_reset["deliveries"] == 0
    assert after_reset["latency_ms"] == 30
    assert (stats["deliveries"], stats["bytes"], stats["latency_ms"]) == (1, 2, 30)
