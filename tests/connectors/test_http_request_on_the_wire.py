"""`connectors.http.send` prepares its requests itself (without `requests.Session.request`'s per-call
merging, see `_prepare`): what reaches the service must stay what `Session.request` sent."""

import threading

import requests
from pytest_httpserver import HTTPServer

from connectors import http
from connectors.conf import get_config
from tests.raw_server import RawServer


def _received(server: HTTPServer, send) -> tuple[str, str, dict, bytes]:
    server.expect_oneshot_request("/hook").respond_with_data("ok")
    send(server.url_for("/hook?a=1"))
    request = server.log[-1][0]
    return request.method, request.full_path, dict(request.headers), request.get_data()


def test_a_call_sends_the_method_path_headers_and_body_that_requests_session_request_sent(httpserver):
    headers = {"X-Team": "sre", "Content-Type": "application/json"}
    ours = _received(
        httpserver,
        lambda url: http.send(
            "post", url, settings=get_config(), headers=headers, json={"ü": 1}, auth=("elastic", "pw")
        ),
    )
    session = requests.Session()
    session.trust_env = False
    theirs = _received(
        httpserver,
        lambda url: session.request(
            "POST",
            url,
            headers={"User-Agent": http.USER_AGENT, **headers},
            data='{"ü":1}'.encode(),
            auth=("elastic", "pw"),
            allow_redirects=False,
        ),
    )
    assert ours == theirs
    assert ours[2]["Authorization"].startswith("Basic ")
    assert ours[2]["User-Agent"] == http.USER_AGENT


def test_a_header_set_to_none_is_left_out_as_requests_does(httpserver):
    ours = _received(
        httpserver,
        lambda url: http.send(
            "get", url, settings=get_config(), headers={"Accept-Encoding": None, "X-A": "b"}
        ),
    )
    session = requests.Session()
    session.trust_env = False
    theirs = _received(
        httpserver,
        lambda url: session.request(
            "GET", url, headers={"User-Agent": http.USER_AGENT, "Accept-Encoding": None, "X-A": "b"}
        ),
    )
    assert ours == theirs
    assert ours[2]["Accept-Encoding"] == "identity"  # http.client's own, not requests' gzip default
    assert ours[2]["X-A"] == "b"


def _keep_alive(connection, stop) -> None:
    """Answer every request on the connection until the client closes it."""
    while not stop.is_set():
        try:
            if not connection.recv(65536):
                return
        except TimeoutError:
            continue
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")


def test_the_threads_of_a_process_share_its_keep_alive_connections():
    """A worker's action threads take an idle connection instead of each opening its own."""
    server = RawServer(_keep_alive, read_request=False)
    try:
        url = f"http://127.0.0.1:{server.port}/hook"
        for _ in range(3):  # one after another, each from a thread of its own
            thread = threading.Thread(target=http.send, args=("post", url), kwargs={"settings": get_config()})
            thread.start()
            thread.join()
        assert server.connections == 1
    finally:
        server.close()
