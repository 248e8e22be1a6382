"""Issue 16, finding 2: a KQL wildcard filter must not stall a web thread.

`kibana.action.id: *a*a*…*b` used to become the regex `^.*a.*a….*b$`, which Python's backtracking
`re` (SQLite's REGEXP) takes seconds per 36-character id to reject. Wildcards are now matched by the
database's GLOB/LIKE, and a query may hold at most `MAX_WILDCARDS` of them (a 400 beyond).

The timeout markers are a safety net only (the old code ran for minutes): the assertions are about
the answers. `method="thread"` because a regex inside SQLite cannot be interrupted by a signal.
"""

import json

import pytest

from actions import kql as rule_kql
from eventlog import kql
from eventlog.models import Event
from tests.eventlog.factories import run_events

LOGS = "/internal/actions/_global_connector_execution_logs"
KPI = "/internal/actions/_global_connector_execution_kpi"
EXPORT = "/internal/actions/_event_log/_export"
AT_THE_CAP = "*a" * (kql.MAX_WILDCARDS - 1) + "*b"
OVER_THE_CAP = "*a" * 14 + "*b"  # the reported query: 15 wildcards


@pytest.fixture
def long_ids(db, default_space):
    """36-character ids, the worst case for the old regex, and one that matches."""
    for n in range(12):
        run_events(connector_id="a" * 35 + str(n % 10))
    run_events(connector_id="a" * 35 + "b")


@pytest.mark.timeout(60, method="thread")
def test_a_pathological_wildcard_filter_answers_with_the_right_rows(api, long_ids):
    body = {"date_start": "1d", "filter": f"kibana.action.id: {AT_THE_CAP}"}
    response = api.post(LOGS, body, format="json")
    assert response.status_code == 200, response.content
    assert [row["connector_id"] for row in response.json()["data"]] == ["a" * 35 + "b"]
    kpi = api.post(KPI, body, format="json").json()
    assert kpi == {"success": 1, "unknown": 0, "failure": 0, "warning": 0}
    lines = b"".join(api.post(EXPORT, body, format="json").streaming_content).decode().splitlines()
    assert {json.loads(line)["kibana"]["action"]["id"] for line in lines} == {"a" * 35 + "b"}


@pytest.mark.timeout(60, method="thread")
def test_a_wildcard_on_a_document_field_is_not_a_regex_either(api, long_ids):
    body = {"date_start": "1d", "filter": f"kibana.action.name: {AT_THE_CAP}"}
    response = api.post(LOGS, body, format="json")
    assert response.status_code == 200
    assert response.json()["total"] == 0


@pytest.mark.parametrize("path", [LOGS, KPI, EXPORT])
def test_more_wildcards_than_the_cap_get_a_clear_400_in_kibanas_envelope(api, long_ids, path):
    response = api.post(
        path, {"date_start": "1d", "filter": f"kibana.action.id: {OVER_THE_CAP}"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "The filter has 15 wildcards (*); at most 10 are allowed in one query.",
    }


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("a?c*", []),  # `?` is a literal in KQL, not GLOB's any-character
        ("a[x]*", ["a[x]z"]),  # `[` is a literal, not a GLOB class
        ("a%*", ["a%z"]),  # LIKE's `%` and `_` are literals too
        ("a_*", ["a_z"]),
        ("A*", []),  # keyword fields are case-sensitive, as Kibana's
        ("a**z", ["a%z", "a[x]z", "a_z", "abz"]),
    ],
)
def test_wildcard_patterns_treat_every_other_character_literally(db, pattern, expected):
    for connector_id in ("abz", "a[x]z", "a%z", "a_z"):
        run_events(connector_id=connector_id)
    found = Event.objects.filter(action="execute").filter(kql.to_q(f"kibana.action.id: {pattern}"))
    assert sorted(found.values_list("connector_id", flat=True)) == expected


# ---- rule KQL (actions/kql.py): matched in Python, so the same two promises -------------------------


def test_rule_kql_matches_wildcards_without_treating_glob_characters_as_special():
    node = rule_kql.parse(f"name: {AT_THE_CAP}")
    assert rule_kql.matches(node, {"name": "a" * 35 + "b"})
    assert not rule_kql.matches(node, {"name": "a" * 36})
    assert not rule_kql.matches(rule_kql.parse("name: a?c*"), {"name": "abcd"})  # `?` is literal
    assert rule_kql.matches(rule_kql.parse("name: a?c*"), {"name": "a?cd"})
    assert not rule_kql.matches(rule_kql.parse("name: [ab]*"), {"name": "a1"})  # `[` is literal


def test_rule_kql_refuses_more_wildcards_than_the_cap():
    with pytest.raises(rule_kql.KqlError, match="at most 10 are allowed"):
        rule_kql.parse(f"name: {OVER_THE_CAP}")


def test_the_rules_find_filter_answers_400_beyond_the_wildcard_cap(api):
    response = api.get("/api/alerting/rules/_find", {"filter": f"alert.attributes.name: {OVER_THE_CAP}"})
    assert response.status_code == 400
    assert "at most 10 are allowed" in response.json()["message"]
