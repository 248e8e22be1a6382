"""No output of the event-log area shows a connector secret (marker strings searched in every output)."""

from django.test import Client

from actions.services import RunInfo, execute
from connectors.models import Connector

SECRET = "evlog-no-leak-7f3a91"


def failing_webhook(space, httpserver, body):
    httpserver.expect_request("/hook").respond_with_json(body, status=401)
    connector = Connector(
        space=space,
        name="Leaky",
        connector_type_id=".webhook",
        config={"url": httpserver.url_for("/hook"), "method": "post", "hasAuth": True},
    )
    connector.set_secrets({"user": "svc-user", "password": SECRET})
    connector.save()
    execute(connector, {"body": "x"}, RunInfo(source="alert", attempt=1, max_attempts=2))
    assert httpserver.log, "the connector really called the server"
    return connector


def every_output(api, superuser, connector) -> str:
    admin = Client()
    admin.force_login(superuser)
    export = api.get("/internal/actions/_event_log/_export", {"date_start": "1h"})
    parts = [
        api.post(
            "/internal/actions/_global_connector_execution_logs", {"date_start": "1h"}, format="json"
        ).content,
        api.post(
            f"/internal/actions/connector/{connector.id}/_execution_logs", {"date_start": "1h"}, format="json"
        ).content,
        api.post(
            "/internal/actions/_global_connector_execution_kpi", {"date_start": "1h"}, format="json"
        ).content,
        b"".join(export.streaming_content),
        api.get("/api/task_manager/_health").content,
        Client().get("/metrics").content,
        admin.get("/admin/eventlog/event/").content,
    ]
    from eventlog.models import Event

    for event in Event.objects.all():
        parts.append(admin.get(f"/admin/eventlog/event/{event.pk}/change/").content)
    return b"\n".join(parts).decode()


def test_a_failed_run_leaves_no_secret_in_any_event_log_output(api, superuser, default_space, httpserver):
    connector = failing_webhook(default_space, httpserver, {"message": "bad credentials"})
    text = every_output(api, superuser, connector)
    assert "bad credentials" in text  # the error did reach the outputs searched
    assert SECRET not in text


def test_a_secret_the_service_echoes_is_redacted_in_every_output(api, superuser, default_space, httpserver):
    connector = failing_webhook(default_space, httpserver, {"message": f"bad credentials svc-user:{SECRET}"})
    text = every_output(api, superuser, connector)
    assert "bad credentials" in text
    assert SECRET not in text
    assert "bad credentials [REDACTED]:[REDACTED]" in text  # the user name is a secret field too
