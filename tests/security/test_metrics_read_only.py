"""Issue 16, finding 5: `/metrics` is read-only, and can require a bearer token.

A scrape used to fold new events into the rollup in a write transaction (on PostgreSQL under a
SHARE lock on the event table), so anyone who could reach `/metrics` could hold back the event and
journal writers. The workers' heartbeat folds now; a scrape only reads.
"""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from actions.worker import PollStats
from eventlog.models import RollupWatermark, RunRollup
from tests.eventlog.factories import run_events

WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|LOCK|REPLACE|CREATE|SET)\b", re.IGNORECASE)
RUNS = ("connectors_action_runs_total", (("connector_type", ".webhook"), ("outcome", "success")))


def samples(text):
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_scrape_writes_nothing_and_takes_no_lock(db, default_space):
    run_events(type_id=".webhook")
    with CaptureQueriesContext(connection) as queries:
        response = Client().get("/metrics")
    assert response.status_code == 200
    writes = [query["sql"] for query in queries.captured_queries if WRITES.match(query["sql"])]
    assert writes == []
    assert not RunRollup.objects.exists() and not RollupWatermark.objects.exists()


def test_the_workers_heartbeat_folds_new_runs_for_the_next_scrape(db, default_space):
    run_events(type_id=".webhook")
    run_events(type_id=".webhook")
    stats = PollStats()  # what each worker process's poller publishes every few seconds
    stats.record(1.0, "NoTasksClaimed", 0, delay_ms=0)
    stats.publish()
    assert samples(Client().get("/metrics").content.decode())[RUNS] == 2


@pytest.fixture
def metrics_token(kibana_settings):
    kibana_settings.set({"connectors.metrics.token": "scrape-token-0123456789"})
    return "scrape-token-0123456789"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "Basic c2NyYXBlLXRva2VuLTAxMjM0NTY3ODk=", "scrape-token-0123456789"],
)
def test_with_a_token_set_a_scrape_without_it_gets_401(db, metrics_token, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = Client().get("/metrics", **headers)
    assert response.status_code == 401
    assert response.json() == {
        "statusCode": 401,
        "error": "Unauthorized",
        "message": "A valid metrics bearer token is required.",
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_with_a_token_set_the_bearer_scrapes(db, default_space, metrics_token):
    run_events(type_id=".webhook")
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {metrics_token}")
    assert response.status_code == 200
    assert "connectors_task_queue_depth" in response.content.decode()
