"""Our extension: health fields on stored connectors with `?include_health=true`."""

from connectors.models import Connector


def _webhook(api, url):
    return api.post(
        "/api/actions/connector",
        {"name": "hook", "connector_type_id": ".webhook", "config": {"url": url, "hasAuth": False}},
        format="json",
    ).json()


def test_health_fields_appear_only_when_asked_for(api, httpserver):
    created = _webhook(api, httpserver.url_for("/x"))
    assert "last_run_at" not in created
    assert "last_run_at" not in api.get(f"/api/actions/connector/{created['id']}").json()
    assert "last_run_at" not in api.get("/api/actions/connectors").json()[0]


def test_a_new_connector_reports_that_it_never_ran(api, httpserver):
    created = _webhook(api, httpserver.url_for("/x"))
    body = api.get(f"/api/actions/connector/{created['id']}?include_health=true").json()
    assert body["last_run_at"] is None
    assert body["last_outcome"] is None
    assert body["last_error"] is None
    assert body["failures_last_24h"] == 0


def test_failed_runs_show_in_get_and_list_without_secrets(api, httpserver):
    httpserver.expect_request("/x").respond_with_data("nope", status=500)
    created = _webhook(api, httpserver.url_for("/x"))
    for _ in range(2):
        api.post(
            f"/api/actions/connector/{created['id']}/_execute", {"params": {"body": "{}"}}, format="json"
        )
    one = api.get(f"/api/actions/connector/{created['id']}?include_health=true").json()
    assert one["last_outcome"] == "failure"
    assert one["last_error"] == "error calling webhook, retry later"
    assert one["failures_last_24h"] == 2
    assert one["last_run_at"].endswith("Z")
    listed = {c["id"]: c for c in api.get("/api/actions/connectors?include_health=true").json()}
    assert listed[created["id"]]["failures_last_24h"] == 2
    assert Connector.objects.get(pk=created["id"]).last_outcome == "failure"


def test_preconfigured_connectors_carry_only_kibanas_fields(api, kibana_settings):
    kibana_settings.set(
        {"xpack.actions.preconfigured": {"my-log": {"actionTypeId": ".server-log", "name": "Log"}}}
    )
    listed = {c["id"]: c for c in api.get("/api/actions/connectors?include_health=true").json()}
    assert "failures_last_24h" not in listed["my-log"]
