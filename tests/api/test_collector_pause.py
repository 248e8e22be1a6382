"""Lists pause Python's cyclic garbage collector while they build a large answer, and always bring
it back as it was, also when pauses overlap (threads of one web worker)."""

import gc
import threading
import weakref

import pytest

from connectors.api import base
from connectors.api.base import collector_paused
from tests.api.conftest import client_for, create_connector, make_user


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    gc.enable() if was else gc.disable()


def test_the_collector_is_off_inside_and_back_on_after(collector_on):
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_pauses_end_with_the_last_one(collector_on):
    first_inside, second_done = threading.Event(), threading.Event()

    def other_thread():
        with collector_paused():
            first_inside.set()
            second_done.wait(5)

    thread = threading.Thread(target=other_thread)
    thread.start()
    first_inside.wait(5)
    with collector_paused():
        pass
    assert not gc.isenabled()  # the other thread is still building its answer
    second_done.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(collector_on):
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_an_error_inside_still_brings_the_collector_back(collector_on):
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


class Node:
    pass


def test_after_a_large_pause_the_next_one_first_frees_what_it_left(collector_on, monkeypatch):
    monkeypatch.setattr(base, "LARGE_PAUSE_OBJECTS", 1_000)
    with collector_paused():
        answer = [[] for _ in range(2_000)]  # tracked objects, as a large list's rows are
        node = Node()
        node.cycle = node  # answers sit in reference cycles, like DRF's view and response
    gc.collect(1)  # still in use: the young collections age it into the oldest generation
    gone = weakref.ref(node)
    del node, answer
    assert gone() is not None  # garbage now, but only a full collection finds it
    with collector_paused():
        assert gone() is None


@pytest.mark.parametrize("path", ["/api/actions/connectors", "/api/actions"])
def test_the_list_routes_leave_the_collector_on(spaces, collector_on, path):
    create_connector("default")
    client = client_for(make_user("root", superuser=True), "basic")
    assert client.get(path).status_code == 200
    assert gc.isenabled()
