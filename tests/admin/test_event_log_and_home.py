"""The event log reads like Kibana's: names, outcome badges, the error of a failed run, duration,
filters by kind and outcome, and a formatted detail page. The admin home is a dashboard limited to
the spaces the user may read."""

from django.urls import reverse

from actions.services import RunInfo, execute
from connectors.models import Space, SpacePrivilege
from connectors.services import create_connector
from eventlog.models import Event
from eventlog.services import record

EVENTS = reverse("admin:eventlog_event_changelist")
HOME = reverse("admin:index")


def rows(page):
    """The list's table only (the filter sidebar names connectors too)."""
    return page[page.index('id="result_list"') : page.index("</table>", page.index('id="result_list"'))]


def failing_webhook(space, httpserver, name="Billing webhook"):
    httpserver.expect_request("/down").respond_with_json({"message": "maintenance"}, status=503)
    connector = create_connector(
        space,
        name=name,
        type_id=".webhook",
        config={"url": httpserver.url_for("/down"), "hasAuth": False},
        secrets={},
    )
    execute(connector, {"body": "{}"}, RunInfo(source="admin_test"))
    return connector


def rule_run(space_id="default", outcome="success"):
    return record(
        {
            "event": {"provider": "alerting", "action": "execute", "outcome": outcome, "duration": 2_500_000},
            "message": "rule executed: .index-threshold:r1: 'CPU high'",
            "rule": {"id": "r1", "name": "CPU high"},
            "kibana": {"space_ids": [space_id], "saved_objects": [{"type": "alert", "id": "r1"}]},
        }
    )


def test_the_event_list_names_the_connector_badges_the_outcome_and_shows_the_error(
    admin_client, default_space, httpserver
):
    connector = failing_webhook(default_space, httpserver)

    page = rows(admin_client.get(EVENTS).content.decode())
    subject = reverse("admin:connectors_connector_view", args=[connector.id])

    assert f'<td class="field-subject"><span class="cx-ellipsis"><a href="{subject}?space=default"' in page
    assert '<span class="cx-badge cx-badge--danger">Failed</span>' in page
    assert "maintenance" in page  # the failed run's error message
    assert " ms</td>" in page


def test_the_event_list_filters_by_kind_and_outcome(admin_client, default_space, httpserver):
    failing_webhook(default_space, httpserver)
    rule_run()

    rules = rows(admin_client.get(EVENTS, {"provider": "alerting"}).content.decode())
    connector_runs = rows(
        admin_client.get(EVENTS, {"provider": "actions", "outcome": "failure"}).content.decode()
    )

    assert "CPU high" in rules and "Billing webhook" not in rules
    assert "Billing webhook" in connector_runs and "CPU high" not in connector_runs
    assert "Rule run" in admin_client.get(EVENTS).content.decode()


def test_the_event_detail_page_is_formatted_not_a_json_blob(admin_client, default_space, httpserver):
    connector = failing_webhook(default_space, httpserver)
    event = Event.objects.get(action="execute", connector_id=connector.id)

    response = admin_client.get(reverse("admin:eventlog_event_change", args=[event.pk]))
    page = response.content.decode()

    assert response.status_code == 200
    assert "<h2>What ran</h2>" in page and "<h2>How it went</h2>" in page
    assert "Billing webhook" in page
    assert 'class="cx-callout cx-callout--danger"' in page
    assert "<details" in page  # the raw document is folded away


def test_the_home_is_a_dashboard_with_failures_queue_and_workers(admin_client, default_space, httpserver):
    failing_webhook(default_space, httpserver)

    page = admin_client.get(HOME).content.decode()

    assert 'id="cx-home-failing"' in page and "Billing webhook" in page
    assert 'id="cx-home-failures"' in page and "maintenance" in page
    assert "data-queue-ready" in page and "data-workers" in page
    assert 'id="cx-home-tasks"' in page and "Create connector" in page
    assert 'id="cx-home-system"' in page  # the superuser also gets Django's tables, under System


def test_the_home_shows_only_spaces_the_user_may_read(client, default_space, django_user_model, httpserver):
    other = Space.objects.create(id="secret-team", name="Secret team")
    failing_webhook(other, httpserver, name="Hidden hook")
    reader = django_user_model.objects.create_user("reader", "", "reader-password-1")
    SpacePrivilege.objects.create(space=default_space, user=reader, privilege="read")
    client.force_login(reader)

    page = client.get(HOME).content.decode()

    assert "Hidden hook" not in page
    assert "maintenance" not in page
    assert 'id="cx-home-system"' not in page
    assert "django_q" not in page.lower() or "Scheduled tasks" not in page
