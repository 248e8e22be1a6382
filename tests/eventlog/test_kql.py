"""The KQL subset the execution log accepts, run against stored events."""

import pytest

from eventlog import kql
from eventlog.models import Event
from tests.eventlog.factories import run_events


@pytest.fixture
def events(db):
    run_events(connector_id="hook-1", type_id=".webhook", name="Hook one", duration_ms=50)
    run_events(
        connector_id="hook-2",
        type_id=".webhook",
        name="Hook two",
        outcome="failure",
        error="error calling webhook, retry later: [503] Service Unavailable; retry: true",
        duration_ms=900,
    )
    run_events(connector_id="log-1", type_id=".server-log", name="Log", space="marketing", duration_ms=2)


def ids(text):
    return sorted(
        Event.objects.filter(action="execute").filter(kql.to_q(text)).values_list("connector_id", flat=True)
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kibana.action.type_id: .webhook", ["hook-1", "hook-2"]),
        ('kibana.action.id: "hook-1" and kibana.action.type_id: ".webhook"', ["hook-1"]),
        ("kibana.action.id: hook-*", ["hook-1", "hook-2"]),
        ("event.outcome: (success or warning)", ["hook-1", "log-1"]),
        ("not event.outcome: success", ["hook-2"]),
        ("kibana.space_ids: marketing", ["log-1"]),
        ("event.duration >= 100000000", ["hook-2"]),
        ("event.duration < 10000000", ["log-1"]),
        ("error.message: *", ["hook-2"]),
        ('error.message: "service unavailable"', ["hook-2"]),
        ("Unavailable", ["hook-2"]),
        ('message: "Hook one"', ["hook-1"]),
        ("kibana.action.name: Log", ["log-1"]),  # a field we do not keep as a column: read from the document
        ("kibana.alerting.outcome: *", []),
        (
            "(kibana.action.id: hook-1 OR kibana.action.id: log-1) AND NOT kibana.space_ids: marketing",
            ["hook-1"],
        ),
    ],
)
def test_a_query_selects_the_matching_runs(events, query, expected):
    assert ids(query) == expected


@pytest.mark.parametrize("query", ["message: (a", "event.duration > soon", "a:", "(x", 'message: "open'])
def test_malformed_queries_are_refused(query):
    with pytest.raises(kql.KqlError):
        kql.to_q(query)
