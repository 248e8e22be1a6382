"""The read-only event list and the connector Logs fragment."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client, RequestFactory

from connectors.models import Connector
from eventlog.admin_views import connector_log_context, render_connector_log
from eventlog.models import Event
from tests.eventlog.factories import run_events

NOW = datetime.now(UTC)


@pytest.fixture
def admin_client_logged_in(superuser):
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def connector(default_space):
    connector = Connector(space=default_space, name="Pager", connector_type_id=".webhook", config={})
    connector.set_secrets({})
    connector.save()
    return connector


def test_the_event_list_filters_by_space_connector_type_outcome_and_time(
    admin_client_logged_in, connector, other_space
):
    run_events(
        connector_id=connector.id, type_id=".webhook", name="Pager", outcome="failure", error="boom-here"
    )
    run_events(connector_id="other", name="Other", space="marketing")
    run_events(connector_id=connector.id, type_id=".webhook", name="Pager", at=NOW - timedelta(days=3))

    url = "/admin/eventlog/event/"
    page = admin_client_logged_in.get(url).content.decode()
    assert page.count("action started:") == 3
    by_connector = admin_client_logged_in.get(
        url, {"connector": connector.id, "action": "execute"}
    ).content.decode()
    assert by_connector.count("boom-here") == 1  # a failed run shows its error, not its message
    assert by_connector.count("action executed:") == 1
    assert "Other" not in by_connector.split("result_list")[1]
    by_space = admin_client_logged_in.get(url, {"space": "marketing"}).content.decode()
    assert by_space.count("action started: .server-log:other") == 1
    assert "Pager" not in by_space.split("result_list")[1]
    failures = admin_client_logged_in.get(url, {"outcome": "failure"}).content.decode()
    assert failures.split("result_list")[1].count("boom-here") == 1
    assert "action executed:" not in failures
    recent = admin_client_logged_in.get(url, {"period": "24h", "action": "execute"}).content.decode()
    assert recent.count("action executed:") == 1  # the 3-day-old success is out


def test_the_event_list_is_read_only(admin_client_logged_in, connector):
    run_events(connector_id=connector.id)
    event = Event.objects.filter(action="execute").get()
    assert admin_client_logged_in.get("/admin/eventlog/event/add/").status_code == 403
    detail = admin_client_logged_in.get(f"/admin/eventlog/event/{event.pk}/change/")
    assert detail.status_code == 200
    assert "&quot;outcome&quot;: &quot;success&quot;" in detail.content.decode()
    assert 'name="_save"' not in detail.content.decode()
    assert admin_client_logged_in.post(f"/admin/eventlog/event/{event.pk}/delete/").status_code == 403
    assert Event.objects.filter(pk=event.pk).exists()


def test_the_logs_fragment_filters_by_outcome_and_date(connector, superuser):
    run_events(
        connector_id=connector.id,
        type_id=".webhook",
        name="Pager",
        outcome="failure",
        error="bad <b>gateway</b>",
    )
    run_events(connector_id=connector.id, type_id=".webhook", name="Pager")
    run_events(connector_id=connector.id, type_id=".webhook", name="Pager", at=NOW - timedelta(days=10))
    run_events(connector_id="someone-else")
    factory = RequestFactory()

    everything = connector_log_context(factory.get("/"), connector)
    assert everything["log_total"] == 3
    failures = connector_log_context(factory.get("/", {"log_outcome": "failure"}), connector)
    assert [row["status"] for row in failures["log_rows"]] == ["failure"]
    recent_day = (NOW - timedelta(days=10)).date().isoformat()
    dated = connector_log_context(factory.get("/", {"log_from": recent_day, "log_to": recent_day}), connector)
    assert dated["log_total"] == 1

    html = render_connector_log(factory.get("/", {"tab": "logs"}), connector)
    assert html.count('<tr class="log-') == 3
    assert "bad &lt;b&gt;gateway&lt;/b&gt;" in html  # escaped
    assert 'name="tab" value="logs"' in html  # the host page's own parameters survive filtering


def test_the_logs_fragment_pages(connector):
    for _ in range(5):
        run_events(connector_id=connector.id)
    request = RequestFactory().get("/", {"log_page": "2"})
    context = connector_log_context(request, connector, per_page=2)
    assert context["log_pages"] == 3
    assert len(context["log_rows"]) == 2
    assert context["log_previous"] == "?log_page=1"
    assert context["log_next"] == "?log_page=3"


def test_the_sidebar_offers_event_types_and_outcomes_without_reading_the_log(
    admin_client_logged_in, connector
):
    page = admin_client_logged_in.get("/admin/eventlog/event/").content.decode()
    for value in ("?action=execute-timeout", "?outcome=failure", "?period=24h", f"?connector={connector.id}"):
        assert value in page
