"""The older internal maintenance-window routes (`/internal/alerting/rules/maintenance_window`, what
Kibana's UI calls), with the bodies of Kibana's functional tests: the stored shape (`r_rule`,
`duration` in ms) translated to the same windows, status and rule-run effect as the public API."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from actions import worker
from actions.models import Alert, MaintenanceWindow
from actions.rule_runner import run_rule
from actions.rules import create_rule
from connectors.models import SpacePrivilege
from tests.actions.helpers import add_documents, threshold_rule_body
from tests.conftest import basic_auth

BASE = "/internal/alerting/rules/maintenance_window"
HOUR_MS = 60 * 60 * 1000
# Kibana's create test's scoped query (a KQL plus a phrase filter from the filter bar).
SCOPED_QUERY = {
    "kql": "_id: '1234'",
    "filters": [
        {
            "meta": {
                "disabled": False,
                "negate": False,
                "alias": None,
                "key": "kibana.alert.action_group",
                "field": "kibana.alert.action_group",
                "params": {"query": "test"},
                "type": "phrase",
            },
            "$state": {"store": "appState"},
            "query": {"match_phrase": {"kibana.alert.action_group": "test"}},
        }
    ],
}


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def weekly(**extra) -> dict:
    """Kibana's createParams: a one-hour weekly window starting now."""
    return {
        "title": "test-maintenance-window",
        "duration": HOUR_MS,
        "r_rule": {"dtstart": stamp(timezone.now()), "tzid": "UTC", "freq": 2},
        **extra,
    }


def one_off(start: datetime, duration_ms: int = HOUR_MS) -> dict:
    """Kibana's alerting tests' window: yearly with count 1."""
    return {
        "title": "test-maintenance-window-1",
        "duration": duration_ms,
        "r_rule": {"dtstart": stamp(start), "tzid": "UTC", "freq": 0, "count": 1},
    }


def test_it_creates_a_running_window_in_kibanas_internal_shape(api):
    body = weekly(category_ids=["management"], scoped_query=SCOPED_QUERY)
    response = api.post(BASE, body, format="json")
    assert response.status_code == 200, response.json()
    window = response.json()
    assert window["title"] == "test-maintenance-window"
    assert window["duration"] == HOUR_MS
    assert window["r_rule"]["dtstart"] == body["r_rule"]["dtstart"]
    assert window["status"] == "running" and window["enabled"] is True
    assert len(window["events"]) > 50  # weekly, up to a year ahead
    assert window["event_start_time"] == window["events"][0]["gte"]
    assert window["event_end_time"] == window["events"][0]["lte"]
    assert window["expiration_date"].endswith("Z")
    assert window["category_ids"] == ["management"]
    assert window["scoped_query"] == {"kql": "_id: '1234'", "filters": SCOPED_QUERY["filters"]}
    assert window["created_by"] == "elastic"
    assert api.get(f"{BASE}/{window['id']}").json() == window


def test_the_public_api_shows_the_same_window_with_a_schedule(api):
    created = api.post(BASE, weekly(scoped_query=SCOPED_QUERY), format="json").json()
    public = api.get(f"/api/maintenance_window/{created['id']}").json()
    assert public["status"] == "running"
    assert public["schedule"] == {
        "custom": {
            "start": created["r_rule"]["dtstart"],
            "duration": "1h",
            "timezone": "UTC",
            "recurring": {"every": "1w"},
        }
    }
    assert public["scope"] == {"alerting": {"query": {"kql": "_id: '1234'"}}}
    # and the other way round: a public window in the internal shape
    made = api.post(
        "/api/maintenance_window",
        {"title": "p", "schedule": {"custom": {"start": stamp(timezone.now()), "duration": "30m"}}},
        format="json",
    ).json()
    internal = api.get(f"{BASE}/{made['id']}").json()
    assert internal["duration"] == 30 * 60 * 1000 and internal["status"] == "running"
    assert "scoped_query" not in internal and "category_ids" not in internal


def test_an_internal_rename_keeps_a_public_windows_schedule_as_written(api):
    schedule = {"custom": {"start": stamp(timezone.now()), "duration": "90m", "recurring": {"every": "1d"}}}
    made = api.post("/api/maintenance_window", {"title": "p", "schedule": schedule}, format="json").json()
    internal = api.post(f"{BASE}/{made['id']}", {"title": "renamed"}, format="json").json()
    assert internal["r_rule"] == {
        "dtstart": schedule["custom"]["start"],
        "tzid": "UTC",
        "freq": 3,
        "interval": 1,
    }
    public = api.get(f"/api/maintenance_window/{made['id']}").json()
    assert public["title"] == "renamed" and public["schedule"] == schedule


def test_a_one_off_window_expires_when_it_ends(api):
    start = timezone.now() + timedelta(days=1)
    window = api.post(BASE, one_off(start), format="json").json()
    assert window["status"] == "upcoming"
    assert len(window["events"]) == 1
    stored = MaintenanceWindow.objects.get(pk=window["id"])
    assert stored.expiration_date - start < timedelta(hours=1, seconds=1)


def test_route_validation_uses_kibanas_messages(api):
    cases = [
        (
            {**weekly(), "duration": "1h"},
            "[request body.duration]: expected value of type [number] but got [string]",
        ),
        (
            weekly(category_ids=["something-else"]),
            # maybe(nullable(arrayOf(oneOf(literals)))): the item's union nests under the nullable's
            "[request body.category_ids]: types that failed validation:\n"
            "- [request body.category_ids.0.0]: types that failed validation:\n"
            " - [request body.category_ids.0.0]: expected value to equal [observability]\n",
        ),
        (
            {**weekly(), "r_rule": {"dtstart": "not a date", "tzid": "UTC"}},
            "[request body.r_rule.dtstart]: Invalid date: not a date",
        ),
        (
            {**weekly(), "r_rule": {"dtstart": stamp(timezone.now()), "tzid": "UTC", "interval": 1.5}},
            "[request body.r_rule.interval]: rRule interval must be an integer greater than 0",
        ),
        (
            {**weekly(), "r_rule": {"dtstart": stamp(timezone.now()), "tzid": "UTC", "byweekday": []}},
            "[request body.r_rule.byweekday]: rRule byweekday cannot be empty",
        ),
        (
            {**weekly(), "r_rule": {"dtstart": stamp(timezone.now()), "tzid": "UTC", "count": 0}},
            "[request body.r_rule.count]: Value must be equal to or greater than [1].",
        ),
        (
            {**weekly(), "r_rule": {"dtstart": stamp(timezone.now()), "tzid": "UTC", "freq": 5}},
            "[request body.r_rule.freq]: types that failed validation:",
        ),
        ({**weekly(), "schedule": {}}, "[request body.schedule]: definition for this key is missing"),
    ]
    for body, message in cases:
        response = api.post(BASE, body, format="json")
        assert response.status_code == 400, body
        assert response.json()["message"].startswith(message), response.json()
    assert MaintenanceWindow.objects.count() == 0


def test_a_bad_scoped_query_is_refused_as_kibanas_create(api):
    bad_kql = api.post(BASE, weekly(scoped_query={"kql": "invalid_kql:", "filters": []}), format="json")
    assert bad_kql.status_code == 400
    assert bad_kql.json()["message"].startswith("Error validating create maintenance window data - ")
    custom_dsl = {"meta": {"key": "x", "type": "custom"}, "query": {"script": {"source": "1"}}}
    unsupported = api.post(BASE, weekly(scoped_query={"kql": "", "filters": [custom_dsl]}), format="json")
    assert unsupported.status_code == 400
    assert "only phrase, phrases and exists filters" in unsupported.json()["message"]
    assert MaintenanceWindow.objects.count() == 0


def test_update_is_a_post_that_changes_only_what_is_sent(api):
    created = api.post(
        BASE, weekly(category_ids=["management"], scoped_query=SCOPED_QUERY), format="json"
    ).json()
    renamed = api.post(f"{BASE}/{created['id']}", {"title": "renamed"}, format="json")
    assert renamed.status_code == 200, renamed.json()
    body = renamed.json()
    assert body["title"] == "renamed" and body["events"] == created["events"]
    assert body["category_ids"] == ["management"] and body["scoped_query"] == created["scoped_query"]
    longer = api.post(
        f"{BASE}/{created['id']}",
        {"duration": 2 * HOUR_MS, "scoped_query": None, "category_ids": None},
        format="json",
    ).json()
    assert longer["duration"] == 2 * HOUR_MS
    first = longer["events"][0]
    assert datetime.fromisoformat(first["lte"]) - datetime.fromisoformat(first["gte"]) == timedelta(hours=2)
    assert "scoped_query" not in longer and "category_ids" not in longer
    disabled = api.post(f"{BASE}/{created['id']}", {"enabled": False}, format="json").json()
    assert disabled["enabled"] is False and disabled["status"] == "disabled"
    # no PATCH route: Kibana answers 404 for a method it has no route for
    assert api.patch(f"{BASE}/{created['id']}", {"title": "x"}, format="json").status_code == 404


def test_archive_takes_a_boolean_and_an_archived_window_cannot_be_edited(api):
    created = api.post(BASE, weekly(), format="json").json()
    missing = api.post(f"{BASE}/{created['id']}/_archive", {}, format="json")
    assert (
        missing.json()["message"]
        == "[request body.archive]: expected value of type [boolean] but got [undefined]"
    )
    archived = api.post(f"{BASE}/{created['id']}/_archive", {"archive": True}, format="json").json()
    assert archived["status"] == "archived"
    refused = api.post(f"{BASE}/{created['id']}", {"title": "x"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        f"Failed to update maintenance window by id: {created['id']}, Error: Cannot edit archived maintenance windows"
    )
    back = api.post(f"{BASE}/{created['id']}/_archive", {"archive": False}, format="json").json()
    assert back["status"] in ("running", "upcoming")


def test_finish_ends_the_running_occurrence_now(api):
    created = api.post(BASE, weekly(), format="json").json()
    finished = api.post(f"{BASE}/{created['id']}/_finish")
    assert finished.status_code == 200, finished.json()
    body = finished.json()
    assert body["status"] == "upcoming"  # next week's occurrence is next
    first = body["events"][0]
    assert datetime.fromisoformat(first["lte"]) <= timezone.now()
    again = api.post(f"{BASE}/{created['id']}/_finish")
    assert again.status_code == 400
    assert again.json()["message"] == (
        f"Failed to finish maintenance window by id: {created['id']}, "
        "Error: Cannot finish maintenance window that is not running"
    )


def test_active_lists_the_running_windows_of_the_space(api, other_space):
    running = api.post(BASE, one_off(timezone.now() - timedelta(minutes=1)), format="json").json()
    api.post(BASE, one_off(timezone.now() + timedelta(days=1)), format="json")
    api.post(f"/s/marketing{BASE}", one_off(timezone.now()), format="json")
    active = api.get(f"{BASE}/_active")
    assert active.status_code == 200
    assert [w["id"] for w in active.json()] == [running["id"]]


def test_bulk_get_answers_found_windows_and_errors(api, other_space):
    mine = api.post(BASE, weekly(), format="json").json()
    elsewhere = api.post(f"/s/marketing{BASE}", weekly(), format="json").json()
    body = api.post(f"{BASE}/_bulk_get", {"ids": [mine["id"], elsewhere["id"]]}, format="json").json()
    assert [w["id"] for w in body["maintenance_windows"]] == [mine["id"]]
    assert body["errors"] == [
        {
            "id": elsewhere["id"],
            "error": "Not Found",
            "message": f"Saved object [maintenance-window/{elsewhere['id']}] not found",
            "status_code": 404,
        }
    ]


def test_find_uses_data_search_status_and_kibanas_page_limits(api):
    api.post(BASE, {**weekly(), "title": "database upgrade"}, format="json")
    api.post(BASE, {**one_off(timezone.now() + timedelta(days=2)), "title": "network"}, format="json")
    everything = api.get(f"{BASE}/_find").json()
    assert everything["page"] == 1 and everything["per_page"] == 1000 and everything["total"] == 2
    assert len(everything["data"]) == 2
    assert [w["title"] for w in api.get(f"{BASE}/_find?search=datab*").json()["data"]] == ["database upgrade"]
    upcoming = api.get(f"{BASE}/_find?status=upcoming").json()
    assert [w["title"] for w in upcoming["data"]] == ["network"]
    both = api.get(f'{BASE}/_find?status=["running","upcoming"]').json()
    assert both["total"] == 2
    refused = api.get(f"{BASE}/_find?status=disabled")
    assert refused.status_code == 400
    too_many = api.get(f"{BASE}/_find?page=200&per_page=100")
    assert too_many.json()["message"] == (
        "[request query]: The number of documents is too high. Paginating through more than 10000 documents is not possible."
    )


def test_delete_answers_204_then_404(api):
    created = api.post(BASE, weekly(), format="json").json()
    assert api.delete(f"{BASE}/{created['id']}").status_code == 204
    gone = api.get(f"{BASE}/{created['id']}")
    assert gone.status_code == 404
    assert gone.json()["message"] == f"Saved object [maintenance-window/{created['id']}] not found"


def test_the_privileges_are_the_public_routes(api, default_space, django_user_model):
    reader = django_user_model.objects.create_user("reader", password="reader-password-1")
    SpacePrivilege.objects.create(user=reader, space=default_space, privilege="read")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth("reader", "reader-password-1"), HTTP_KBN_XSRF="true")
    created = api.post(BASE, weekly(), format="json").json()
    assert client.get(f"{BASE}/{created['id']}").status_code == 200
    assert client.get(f"{BASE}/_find").status_code == 200
    assert client.post(f"{BASE}/_bulk_get", {"ids": [created["id"]]}, format="json").status_code == 200
    for path, body in (
        (BASE, weekly()),
        (f"{BASE}/{created['id']}", {"title": "x"}),
        (f"{BASE}/{created['id']}/_archive", {"archive": True}),
        (f"{BASE}/{created['id']}/_finish", None),
    ):
        denied = client.post(path, body, format="json")
        assert denied.status_code == 403, path
        assert denied.json()["message"] == (
            f"API [POST {path}] is unauthorized for user, "
            "this action is granted by the Kibana privileges [write-maintenance-window]"
        )
    assert client.delete(f"{BASE}/{created['id']}").status_code == 403
    assert MaintenanceWindow.objects.get(pk=created["id"]).title == "test-maintenance-window"


def fire(rule, at):
    run_rule(rule.id, now=at)
    worker.run_pending()
    rule.refresh_from_db()


def test_a_window_from_the_internal_route_suppresses_alerts(api, default_space, hook, httpserver):
    now = timezone.now()
    window = api.post(BASE, one_off(now - timedelta(minutes=1)), format="json").json()
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{}] * 3, at=now - timedelta(seconds=30))
    fire(rule, now)
    assert Alert.objects.get(rule=rule).maintenance_window_ids == [window["id"]]
    assert httpserver.log == []


def test_categories_and_filters_limit_which_alerts_a_window_covers(api, default_space, hook, httpserver):
    now = timezone.now()
    start = now - timedelta(minutes=1)
    other_category = api.post(
        BASE, {**one_off(start), "category_ids": ["observability"]}, format="json"
    ).json()
    other_group = api.post(
        BASE, {**one_off(start), "scoped_query": SCOPED_QUERY | {"kql": ""}}, format="json"
    ).json()
    negated = {**SCOPED_QUERY["filters"][0], "meta": {**SCOPED_QUERY["filters"][0]["meta"], "negate": True}}
    covering = api.post(
        BASE,
        {**one_off(start), "category_ids": ["management"], "scoped_query": {"kql": "", "filters": [negated]}},
        format="json",
    ).json()
    rule = create_rule(
        default_space, threshold_rule_body(hook.id), user="elastic"
    )  # action group "threshold met"
    add_documents("metrics", [{}] * 3, at=now - timedelta(seconds=30))
    fire(rule, now)
    ids = Alert.objects.get(rule=rule).maintenance_window_ids
    assert ids == [covering["id"]]
    assert other_category["id"] not in ids and other_group["id"] not in ids
