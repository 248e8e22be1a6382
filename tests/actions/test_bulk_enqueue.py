"""`POST /api/actions/_bulk_enqueue` (our extension): many background actions in one request, each
judged alone with `_enqueue`'s rules, queued in one transaction and delivered by the workers."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from actions import queue, worker
from actions.models import ActionRun
from connectors.models import SpacePrivilege
from tests.actions.helpers import make_webhook
from tests.conftest import basic_auth


def bulk(api, actions, space=""):
    prefix = f"/s/{space}" if space else ""
    return api.post(f"{prefix}/api/actions/_bulk_enqueue", {"actions": actions}, format="json")


def test_every_action_of_a_bulk_request_is_queued_and_delivered(api, hook, httpserver):
    response = bulk(api, [{"id": hook.id, "params": {"body": f"n{i}"}} for i in range(5)])

    assert response.status_code == 200
    body = response.json()
    assert body["errors"] is False
    assert [item["status"] for item in body["items"]] == ["queued"] * 5
    runs = {str(run.pk): run for run in ActionRun.objects.all()}
    assert sorted(runs) == sorted(item["id"] for item in body["items"])
    assert worker.run_pending() == 5
    assert sorted(request.get_data(as_text=True) for request, _ in httpserver.log) == [
        f"n{i}" for i in range(5)
    ]


def test_refused_items_carry_kibanas_envelope_and_the_others_are_still_queued(
    api, hook, other_space, httpserver
):
    elsewhere = make_webhook(other_space, httpserver.url_for("/hook"), name="Marketing hook")
    missing_secrets = make_webhook(hook.space, httpserver.url_for("/hook"), name="Imported")
    missing_secrets.is_missing_secrets = True
    missing_secrets.save()

    response = bulk(
        api,
        [
            {"id": hook.id, "params": {"body": "a"}},
            {"id": "nope", "params": {}},
            {"id": elsewhere.id, "params": {}},
            {"id": missing_secrets.id, "params": {}},
            {"id": hook.id, "params": {"body": "b"}},
        ],
    )

    body = response.json()
    assert response.status_code == 200 and body["errors"] is True
    items = body["items"]
    assert [item.get("status") for item in items] == ["queued", None, None, None, "queued"]
    assert items[1]["error"] == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "Saved object [action/nope] not found",
    }
    assert items[2]["error"]["statusCode"] == 404  # another space's connector is not found here
    assert items[3]["error"] == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": 'Unable to execute action because no secrets are defined for the "Imported" connector.',
    }
    assert ActionRun.objects.count() == 2


def test_items_past_the_queue_limit_are_refused_with_429(api, hook, kibana_settings):
    kibana_settings.set({"xpack.actions.queued.max": 2})

    items = bulk(api, [{"id": hook.id, "params": {}} for _ in range(4)]).json()["items"]

    assert [item.get("status") or item["error"]["statusCode"] for item in items] == [
        "queued",
        "queued",
        429,
        429,
    ]
    assert items[3]["error"]["message"] == (
        "The maximum number of queued actions was reached; excess actions were not triggered."
    )
    assert ActionRun.objects.count() == 2


def test_a_bulk_request_costs_the_same_queries_for_one_action_or_fifty(api, hook, monkeypatch):
    # The queue-capacity COUNT is taken again once a second (actions.queue._PendingEstimate): keep
    # it out of both measured requests, whatever the clock does between them.
    monkeypatch.setattr(queue._estimate, "ttl", 3600.0)

    def statements(count):
        with CaptureQueriesContext(connection) as captured:
            bulk(api, [{"id": hook.id, "params": {"body": str(i)}} for i in range(count)])
        # SQLite splits one bulk INSERT into batches by its variable limit; everything else is fixed.
        return [
            q["sql"].split(" (")[0]
            for q in captured.captured_queries
            if 'INSERT INTO "actions_actionrun"' not in q["sql"]
        ]

    bulk(api, [{"id": hook.id, "params": {}}])  # warm the authentication cache
    one, fifty = statements(1), statements(50)
    assert len(one) == len(fifty)
    assert sum(sql.startswith("SELECT") for sql in fifty) == 3  # user, space, connectors
    assert ActionRun.objects.count() == 52


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"actions": []}, "[request body.actions]: array size is [0], but cannot be smaller than [1]"),
        ({}, "[request body.actions]: expected value of type [array] but got [undefined]"),
    ],
)
def test_a_malformed_bulk_body_is_a_400_with_kibanas_message(api, body, message):
    response = api.post("/api/actions/_bulk_enqueue", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"statusCode": 400, "error": "Bad Request", "message": message}


def test_more_than_a_thousand_actions_in_one_request_are_refused(api, hook):
    response = bulk(api, [{"id": hook.id, "params": {}}] * 1001)
    assert response.status_code == 400
    assert "cannot be greater than [1000]" in response.json()["message"]
    assert ActionRun.objects.count() == 0


def test_a_reader_cannot_bulk_enqueue(db, default_space, django_user_model, hook):
    user = django_user_model.objects.create_user("reader", password="reader-pass-1")
    SpacePrivilege.objects.create(space=default_space, user=user, privilege="read")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth("reader", "reader-pass-1"), HTTP_KBN_XSRF="1")
    assert bulk(client, [{"id": hook.id, "params": {}}]).status_code == 200  # Kibana lets read execute
    user_none = django_user_model.objects.create_user("nobody", password="nobody-pass-1")
    client.credentials(HTTP_AUTHORIZATION=basic_auth("nobody", "nobody-pass-1"), HTTP_KBN_XSRF="1")
    assert user_none and bulk(client, [{"id": hook.id, "params": {}}]).status_code == 403
    assert ActionRun.objects.count() == 1


def test_bulk_enqueue_works_under_a_space_prefix(api, other_space, httpserver):
    hook = make_webhook(other_space, httpserver.url_for("/hook"))
    items = bulk(api, [{"id": hook.id, "params": {}}], space="marketing").json()["items"]
    assert items[0]["status"] == "queued"
    assert ActionRun.objects.get().space_id == "marketing"
