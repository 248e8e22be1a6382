"""The connectors admin through Django's test client: what each page shows and what each action does."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from actions.services import RunInfo, execute
from connectors import registry
from connectors.models import Connector, Space
from connectors.services import create_connector
from eventlog.models import Event

SECRET = "marker-secret-5f1d8a"  # must never appear in any page
LIST = "/admin/connectors/connector/"


def url(name, *args):
    return reverse(f"admin:connectors_connector_{name}", args=args)


def webhook(space, name="Ops hook", url="http://127.0.0.1:9/hook", **secrets):
    return create_connector(
        space,
        name=name,
        type_id=".webhook",
        config={"url": url, "method": "post"},
        secrets=secrets or {"user": "bot-user-7q", "password": SECRET},
    )


def server_log(space, name="Audit log"):
    return create_connector(space, name=name, type_id=".server-log", config={}, secrets={})


def login(user):
    client = Client()
    client.force_login(user)
    return client


# ---- the list ---------------------------------------------------------------------------------


def test_the_list_shows_the_current_spaces_connectors_with_type_and_rule_count(
    admin_client, default_space, other_space
):
    webhook(default_space, "Ops hook")
    server_log(other_space, "Marketing log")

    page = admin_client.get(LIST).content.decode()

    assert "Ops hook" in page
    assert "Marketing log" not in page
    assert "/static/connectors/icons/globe.svg" in page
    assert "0 rules" in page
    assert SECRET not in page


def test_the_space_switcher_shows_another_space_and_remembers_it(admin_client, default_space, other_space):
    server_log(other_space, "Marketing log")

    page = admin_client.get(LIST, {"space": "marketing"}).content.decode()
    again = admin_client.get(LIST).content.decode()

    assert "Marketing log" in page
    assert "Marketing log" in again
    assert '<option value="marketing" selected>' in again


def test_search_matches_names_and_types(admin_client, default_space):
    webhook(default_space, "Ops hook")
    server_log(default_space, "Audit log")

    by_name = admin_client.get(LIST, {"q": "audit"}).content.decode()
    by_type = admin_client.get(LIST, {"q": "webhook"}).content.decode()

    assert "Audit log" in by_name and "Ops hook" not in by_name
    assert "Ops hook" in by_type and "Audit log" not in by_type


def test_the_type_filter_keeps_only_that_type(admin_client, default_space):
    webhook(default_space, "Ops hook")
    server_log(default_space, "Audit log")

    page = admin_client.get(LIST, {"type": ".server-log"}).content.decode()

    assert "Audit log" in page
    assert "Ops hook" not in page


def test_sorting_by_name_descending_reverses_the_rows(admin_client, default_space):
    server_log(default_space, "Alpha")
    server_log(default_space, "Zulu")

    ascending = admin_client.get(LIST).content.decode()
    descending = admin_client.get(LIST, {"sort": "-name"}).content.decode()

    assert ascending.index("Alpha") < ascending.index("Zulu")
    assert descending.index("Zulu") < descending.index("Alpha")


def test_the_lists_sort_page_and_clear_links_name_its_space(admin_client, default_space, other_space):
    for index in range(51):
        create_connector(other_space, name=f"Log {index:02}", type_id=".server-log", config={}, secrets={})

    page = admin_client.get(LIST, {"space": "marketing", "q": "Log"}).content.decode()

    assert 'href="?space=marketing&amp;q=Log&amp;sort=-name"' in page  # the active column reverses
    assert 'href="?space=marketing&amp;q=Log&amp;sort=type"' in page
    assert 'href="?space=marketing&amp;q=Log&amp;sort=name&amp;page=2"' in page
    assert 'href="?space=marketing" class="cx-link">Clear' in page
    assert '<input type="hidden" name="space" value="marketing">' in page  # the search form too


def test_a_later_page_shows_the_next_rows_in_full_with_their_badges(admin_client, default_space):
    for i in range(55):
        server_log(default_space, f"Log {i:02d}")
    Connector.objects.filter(name="Log 53").update(is_missing_secrets=True)
    Connector.objects.filter(name="Log 54").update(connector_type_id=".retired-type")

    first = admin_client.get(LIST).content.decode()
    second = admin_client.get(LIST, {"page": 2}).content.decode()

    assert "Log 49" in first and "Log 50" not in first
    assert [f"Log {i}" in second for i in range(50, 55)] == [True] * 5 and "Log 49" not in second
    assert second.count("Missing secrets") == 1
    assert "This connector type is not available." not in second  # shown only as the type id
    assert ">.retired-type</span>" in second
    assert "Showing 5 of 55 connectors." in second


def test_preconfigured_connectors_are_listed_apart_and_read_only(
    admin_client, default_space, kibana_settings
):
    kibana_settings.set(
        {
            "xpack.actions.preconfigured": {
                "my-log": {"actionTypeId": ".server-log", "name": "Preset log", "secrets": {}}
            }
        }
    )

    page = admin_client.get(LIST).content.decode()
    detail = admin_client.get(url("view", "my-log"))
    redirected = admin_client.get(url("change", "my-log"))
    edit_attempt = admin_client.post(url("change", "my-log"), {"name": "renamed"})
    delete_attempt = admin_client.post(url("delete", "my-log"), {"confirm": "yes"}, follow=True)

    assert 'id="cx-preconfigured"' in page and "Preset log" in page
    assert detail.status_code == 200 and "cannot be edited or deleted" in detail.content.decode()
    assert 'id="cx-connector-form"' not in detail.content.decode()
    assert (
        redirected.status_code == 302 and redirected["Location"] == url("view", "my-log") + "?space=default"
    )
    assert edit_attempt.status_code == 403
    assert "Preconfigured connectors cannot be deleted" in delete_attempt.content.decode()


def test_a_preconfigured_connector_can_be_tested_from_any_space(
    admin_client, default_space, other_space, kibana_settings
):
    kibana_settings.set(
        {"xpack.actions.preconfigured": {"my-log": {"actionTypeId": ".server-log", "name": "Preset log"}}}
    )

    page = admin_client.post(
        url("test", "my-log") + "?space=marketing", {"params__message": "hi", "params__level": "info"}
    ).content.decode()

    assert "Test was successful" in page
    event = Event.objects.get(connector_id="my-log", action="execute")
    assert event.space_id == "marketing"
    assert event.document["kibana"]["saved_objects"][0]["space_agnostic"] is True


def test_deprecated_connectors_are_flagged(admin_client, default_space):
    # Only ServiceNow instances can be deprecated; the row is created directly since that type is
    # registered by another module.
    Connector.objects.create(
        space=default_space, name="Old SNOW", connector_type_id=".servicenow", config={"usesTableApi": True}
    )

    page = admin_client.get(LIST).content.decode()

    assert "Old SNOW" in page
    assert ">Deprecated<" in page


# ---- create -----------------------------------------------------------------------------------


def test_the_type_grid_lists_every_registered_type_with_icon_and_description(admin_client):
    page = admin_client.get(url("add")).content.decode()

    for connector_type in registry.all_types():
        assert f'data-type-id="{connector_type.type_id}"' in page
        assert connector_type.description in page
    assert "/static/connectors/icons/" in page


def test_every_registered_type_gets_a_form_from_its_schema(admin_client):
    from connectors.admin.forms import specs_for

    for connector_type in registry.all_types():
        if connector_type.is_system_action_type:
            continue
        response = admin_client.get(url("add"), {"type": connector_type.type_id})
        page = response.content.decode()
        assert response.status_code == 200, connector_type.type_id
        specs = specs_for(connector_type.config_schema, "config") + specs_for(
            connector_type.secrets_schema, "secrets"
        )
        for spec in specs:
            # (a `rows` input is one text input per row and key: `config__allowedChannels__0__name`)
            # (`mappings` too, one per row and key: `config__mappings__alertIdConfig__key`)
            wrapped = {"rows": "data-rows", "mappings": "data-mappings"}
            name = f'{wrapped.get(spec.input, "name")}="{spec.name}"'
            assert name in page, (connector_type.type_id, spec.name)
            if spec.input == "password":
                assert f'type="password" name="{spec.name}"' in page


def test_creating_a_webhook_stores_config_and_encrypted_secrets(admin_client, default_space):
    response = admin_client.post(
        url("add") + "?type=.webhook",
        {
            "type": ".webhook",
            "name": "Ops hook",
            "config__url": "http://127.0.0.1:9/hook",
            "config__method": "put",
            "config__hasAuth": "on",
            "config__headers": '{"X-Team": "ops"}',
            "secrets__user": "bot",
            "secrets__password": SECRET,
        },
    )

    connector = Connector.objects.get(name="Ops hook")
    assert response.status_code == 302
    assert connector.space_id == "default"
    assert connector.config["method"] == "put"
    assert connector.config["headers"] == {"X-Team": "ops"}
    assert connector.get_secrets()["password"] == SECRET
    assert SECRET not in connector.secrets_sealed


def test_form_errors_are_in_plain_words_on_their_fields(admin_client, default_space):
    response = admin_client.post(
        url("add") + "?type=.webhook",
        {"type": ".webhook", "name": "", "config__url": "", "config__headers": "{not json"},
    )
    page = response.content.decode()

    assert response.status_code == 400
    assert page.count("This field is required.") == 2  # name and url
    assert "This is not valid JSON" in page
    assert not Connector.objects.exists()


def test_rules_of_the_type_are_the_apis_rules(admin_client, default_space, kibana_settings):
    kibana_settings.set({"xpack.actions.allowedHosts": ["example.org"]})

    response = admin_client.post(
        url("add") + "?type=.webhook",
        {"type": ".webhook", "name": "Hook", "config__url": "http://127.0.0.1:9/", "config__hasAuth": "on"},
    )
    page = response.content.decode()

    assert response.status_code == 400
    assert "not added to the Kibana config xpack.actions.allowedHosts" in page
    assert 'id="id_config__url_error"' in page  # shown on the URL field


def test_a_missing_username_is_shown_on_its_field_and_the_typed_password_is_not_echoed(
    admin_client, default_space
):
    response = admin_client.post(
        url("add") + "?type=.webhook",
        {
            "type": ".webhook",
            "name": "Hook",
            "config__url": "http://127.0.0.1:9/",
            "config__hasAuth": "on",
            "config__authType": "webhook-authentication-basic",
            "secrets__password": SECRET,
        },
    )
    page = response.content.decode()

    assert response.status_code == 400
    assert 'id="id_secrets__user_error"' in page
    # never in the HTML; the browser puts it back (admin.js, tests/admin/test_browser_audit.py)
    assert SECRET not in page
    assert 'name="secrets__password"' in page and "data-secret" in page


def test_unticking_authentication_after_choosing_ssl_saves_no_auth_type(admin_client, default_space):
    response = admin_client.post(
        url("add") + "?type=.webhook",
        {
            "type": ".webhook",
            "name": "Hook",
            "config__url": "http://127.0.0.1:9/",
            "config__authType": "webhook-authentication-ssl",  # chosen, then auth unticked
            "config__certType": "ssl-crt-key",
            "secrets__password": SECRET,
        },
    )

    connector = Connector.objects.get()
    assert response.status_code == 302
    assert connector.config["hasAuth"] is False
    assert connector.config["authType"] is None
    assert connector.get_secrets()["password"] is None  # a hidden field is not sent


def test_a_disabled_type_cannot_be_created(admin_client, default_space, kibana_settings):
    kibana_settings.set({"xpack.actions.enabledActionTypes": [".server-log"]})

    grid = admin_client.get(url("add")).content.decode()
    response = admin_client.post(
        url("add") + "?type=.webhook",
        {"type": ".webhook", "name": "Hook", "config__url": "http://127.0.0.1:9/"},
    )

    assert "disabled in the settings file" in grid
    assert "is not enabled in the Kibana config xpack.actions.enabledActionTypes" in response.content.decode()
    assert not Connector.objects.exists()


# ---- edit and fix -----------------------------------------------------------------------------


def test_editing_never_shows_stored_secrets_and_a_blank_secret_keeps_it(admin_client, default_space):
    connector = webhook(default_space)

    form = admin_client.get(url("change", connector.id)).content.decode()
    response = admin_client.post(
        url("change", connector.id),
        {
            "name": "Renamed hook",
            "config__url": "http://127.0.0.1:9/hook",
            "config__hasAuth": "on",
            "secrets__user": "",
            "secrets__password": "",
        },
    )

    connector.refresh_from_db()
    assert SECRET not in form
    assert "bot-user-7q" not in form  # not even the non-secret half of the secrets
    assert "A value is saved; leave blank to keep it." in form
    assert response.status_code == 302
    assert connector.name == "Renamed hook"
    assert connector.get_secrets()["password"] == SECRET
    assert connector.get_secrets()["user"] == "bot-user-7q"


def test_a_saved_secret_can_be_removed(admin_client, default_space):
    connector = webhook(default_space)

    admin_client.post(
        url("change", connector.id),
        {
            "name": "Hook",
            "config__url": "http://127.0.0.1:9/",
            "secrets__user__clear": "on",
            "secrets__password__clear": "on",
        },
    )

    connector.refresh_from_db()
    assert connector.config["hasAuth"] is False
    assert connector.get_secrets()["password"] is None
    assert connector.get_secrets()["user"] is None


def test_fix_asks_only_for_secrets_and_clears_the_missing_flag(admin_client, default_space):
    connector = Connector.objects.create(
        space=default_space,
        name="Imported hook",
        connector_type_id=".webhook",
        config={"url": "http://127.0.0.1:9/", "method": "post", "hasAuth": True},
        is_missing_secrets=True,
    )

    listing = admin_client.get(LIST).content.decode()
    form = admin_client.get(url("fix", connector.id)).content.decode()
    response = admin_client.post(
        url("fix", connector.id), {"secrets__user": "bot", "secrets__password": SECRET}
    )

    connector.refresh_from_db()
    assert url("fix", connector.id) in listing
    assert 'name="secrets__password"' in form and 'name="config__url"' not in form
    assert response.status_code == 302
    assert connector.is_missing_secrets is False
    assert connector.get_secrets()["password"] == SECRET


# ---- test tab ---------------------------------------------------------------------------------


def test_the_test_tab_runs_the_connector_against_the_real_server(admin_client, default_space, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    connector = webhook(default_space, url=httpserver.url_for("/hook"))

    form = admin_client.get(url("test", connector.id)).content.decode()
    page = admin_client.post(
        url("test", connector.id), {"params__body": '{"hello": "world"}'}
    ).content.decode()

    request, _ = httpserver.log[0]
    assert "When you run the test, the results will show up here." in form
    assert "Test was successful" in page
    assert request.get_data(as_text=True) == '{"hello": "world"}'
    assert request.authorization.username == "bot-user-7q"
    event = Event.objects.get(connector_id=connector.id, action="execute")
    assert event.outcome == "success"
    assert event.source == "admin_test"
    assert event.document["user"]["name"] == "elastic"
    assert SECRET not in page


def test_a_failed_test_shows_the_message_and_the_service_message(admin_client, default_space, httpserver):
    httpserver.expect_request("/hook").respond_with_json({"message": "boom"}, status=500)
    connector = webhook(default_space, url=httpserver.url_for("/hook"))

    page = admin_client.post(url("test", connector.id), {"params__body": "x"}).content.decode()

    assert "Test failed to run" in page
    assert "error calling webhook, retry later" in page
    assert "[500] INTERNAL SERVER ERROR: boom" in page


def test_the_test_tab_obeys_allowed_hosts_like_real_runs(
    admin_client, default_space, httpserver, kibana_settings
):
    connector = webhook(default_space, url=httpserver.url_for("/hook"))
    kibana_settings.set({"xpack.actions.allowedHosts": ["example.org"]})

    page = admin_client.post(url("test", connector.id), {"params__body": "x"}).content.decode()

    assert "Test failed to run" in page
    assert "xpack.actions.allowedHosts" in page
    assert len(httpserver.log) == 0


def test_a_type_without_params_says_so_and_runs(admin_client, default_space):
    connector = create_connector(
        default_space, name="Docs", type_id=".index", config={"index": "docs"}, secrets={}
    )

    page = admin_client.post(url("test", connector.id), {"params__documents": '[{"a": 1}]'}).content.decode()

    assert "Test was successful" in page


def test_params_errors_stay_on_the_form_and_nothing_runs(admin_client, default_space):
    connector = server_log(default_space)

    page = admin_client.post(
        url("test", connector.id), {"params__message": "", "params__level": "info"}
    ).content.decode()

    assert "This field is required." in page
    assert not Event.objects.exists()


# ---- logs and rules ---------------------------------------------------------------------------


def test_the_logs_tab_lists_runs_and_filters_by_outcome_and_date(admin_client, default_space, httpserver):
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    httpserver.expect_ordered_request("/hook").respond_with_data("no", status=400)
    connector = webhook(default_space, url=httpserver.url_for("/hook"))
    execute(connector, {"body": "1"}, RunInfo(source="admin_test"))
    execute(connector, {"body": "2"}, RunInfo(source="admin_test"))

    everything = admin_client.get(url("logs", connector.id)).content.decode()
    failures = admin_client.get(url("logs", connector.id), {"log_outcome": "failure"}).content.decode()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    future = admin_client.get(url("logs", connector.id), {"log_from": tomorrow}).content.decode()

    assert 'id="connector-log"' in everything
    assert everything.count('class="log-success"') == 1
    assert everything.count('class="log-failure"') == 1
    assert failures.count('class="log-success"') == 0
    assert failures.count('class="log-failure"') == 1
    assert "error calling webhook, invalid response" in failures
    assert "No runs in this period." in future
    assert "0 runs" in future


def test_the_logs_tab_shows_only_this_connectors_runs(admin_client, default_space, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    mine = webhook(default_space, "Mine", url=httpserver.url_for("/hook"))
    other = webhook(default_space, "Other", url=httpserver.url_for("/hook"))
    execute(mine, {"body": "1"}, RunInfo(source="admin_test"))
    execute(other, {"body": "2"}, RunInfo(source="admin_test"))
    execute(other, {"body": "3"}, RunInfo(source="admin_test"))

    page = admin_client.get(url("logs", mine.id)).content.decode()

    assert page.count('class="log-success"') == 1
    assert "1 run<" in page


def rule(space, name, connector_ids, **fields):
    from actions.models import Rule

    return Rule.objects.create(
        space=space,
        name=name,
        rule_type_id=".index-threshold",
        actions=[{"id": cid, "group": "threshold met", "params": {}} for cid in connector_ids],
        **fields,
    )


def test_the_rules_tab_lists_the_rules_using_the_connector(admin_client, default_space):
    connector = server_log(default_space)
    unused = server_log(default_space, "Unused")
    used = rule(default_space, "CPU high", [connector.id], execution_status={"status": "ok"})
    rule(default_space, "Disk full", [connector.id], enabled=False, last_run={"outcome": "failed"})
    rule(default_space, "Elsewhere", [unused.id])

    page = admin_client.get(url("rules", connector.id)).content.decode()
    empty = admin_client.get(url("rules", server_log(default_space, "Lonely").id)).content.decode()

    assert "2</strong> rules use this connector" in page
    assert f'href="{reverse("admin:actions_rule_change", args=[used.id])}"' in page
    assert "CPU high" in page and "Disk full" in page
    assert "Elsewhere" not in page
    assert "Disabled" in page and "Enabled" in page
    assert 'data-status="ok"' in page
    assert "failed" in page
    assert "cx-rules-placeholder" not in page
    assert 'id="cx-no-rules"' in empty


def test_delete_confirmations_name_the_rules_using_each_connector(admin_client, default_space):
    first, second = server_log(default_space, "A"), server_log(default_space, "B")
    rule(default_space, "CPU high", [first.id])
    rule(default_space, "Disk full", [first.id, second.id])

    row = admin_client.get(url("delete", first.id)).content.decode()
    bulk = admin_client.post(url("bulk_delete"), {"ids": [first.id, second.id]}).content.decode()

    assert "used by 2 rules" in row
    assert "CPU high" in row and "Disk full" in row
    assert bulk.count("CPU high") == 1
    assert bulk.count("Disk full") == 2


# ---- import/export and health -----------------------------------------------------------------


def test_the_list_offers_import_and_export_to_all_and_only_export_to_read(
    admin_client, default_space, staff_user
):
    server_log(default_space)
    reader = Client()
    reader.force_login(staff_user("reader", default="read"))

    full = admin_client.get(LIST).content.decode()
    read = reader.get(LIST).content.decode()

    assert 'href="/admin/saved-objects/import/"' in full
    assert 'id="cx-export"' in full and 'id="cx-bulk-export"' in full
    assert 'href="/admin/saved-objects/import/"' not in read
    assert 'id="cx-export"' in read


def test_export_selected_goes_to_the_export_page_for_the_ticked_connectors(admin_client, default_space):
    first, second = server_log(default_space, "A"), server_log(default_space, "B")
    server_log(default_space, "C")

    response = admin_client.post(url("bulk_export"), {"ids": [second.id, first.id]})
    page = admin_client.get(response["Location"]).content.decode()

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/saved-objects/export/?ids=")
    assert set(response["Location"].split("ids=")[1].split(",")) == {first.id, second.id}
    assert "A" in page and "B" in page


def test_export_selected_ignores_connectors_of_other_spaces(admin_client, default_space, other_space):
    foreign = server_log(other_space, "Foreign")

    response = admin_client.post(url("bulk_export"), {"ids": [foreign.id]})

    assert response["Location"] == LIST


def test_the_list_shows_failures_of_the_last_24_hours(admin_client, default_space, httpserver):
    httpserver.expect_request("/hook").respond_with_data("no", status=400)
    failing = webhook(default_space, "Failing", url=httpserver.url_for("/hook"))
    quiet = server_log(default_space, "Quiet")
    execute(failing, {"body": "1"}, RunInfo(source="admin_test"))
    execute(failing, {"body": "2"}, RunInfo(source="admin_test"))
    Event.objects.filter(connector_id=failing.id, action="execute").update(
        timestamp=datetime.now(UTC) - timedelta(hours=1)
    )
    old = Event.objects.filter(connector_id=failing.id, action="execute").first()
    old.timestamp = datetime.now(UTC) - timedelta(hours=30)
    old.save()

    page = admin_client.get(LIST).content.decode()

    assert "Failures (24 h)" in page
    assert page.count('data-failures-24h="1"') == 1
    assert page.count('data-failures-24h="0"') == 1
    assert quiet.id in page


def test_the_header_links_api_keys_privileges_and_api_docs(admin_client, staff_user):
    reader = Client()
    reader.force_login(staff_user("reader", default="read"))

    page = admin_client.get(LIST).content.decode()
    read = reader.get(LIST).content.decode()

    assert 'href="/admin/connectors/apikey/"' in page
    assert 'href="/admin/connectors/spaceprivilege/"' in page
    assert 'href="/api/schema/docs/"' in page
    assert 'href="/api/schema/docs/"' in read
    assert 'href="/admin/connectors/spaceprivilege/"' not in read
    assert admin_client.get("/admin/connectors/apikey/").status_code == 200
    assert admin_client.get("/admin/connectors/spaceprivilege/").status_code == 200


# ---- delete -----------------------------------------------------------------------------------


def test_bulk_delete_confirms_with_rule_counts_then_deletes(admin_client, default_space):
    first, second, kept = (
        server_log(default_space, "A"),
        server_log(default_space, "B"),
        server_log(default_space, "C"),
    )

    confirm = admin_client.post(url("bulk_delete"), {"ids": [first.id, second.id]}).content.decode()
    done = admin_client.post(url("bulk_delete"), {"ids": [first.id, second.id], "confirm": "yes"})

    assert "Delete 2 connectors?" in confirm
    assert confirm.count("used by 0 rules") == 2
    assert done.status_code == 302
    assert list(Connector.objects.values_list("id", flat=True)) == [kept.id]


def test_the_trash_icon_deletes_one_after_confirmation(admin_client, default_space):
    connector = server_log(default_space)

    listing = admin_client.get(LIST).content.decode()
    confirm = admin_client.get(url("delete", connector.id)).content.decode()
    admin_client.post(url("delete", connector.id), {"confirm": "yes"})

    assert url("delete", connector.id) in listing
    assert "Delete 1 connector?" in confirm
    assert not Connector.objects.exists()


def test_another_spaces_connector_cannot_be_reached(admin_client, default_space, other_space):
    foreign = server_log(other_space)

    missing = admin_client.get(url("change", foreign.id))
    assert missing.status_code == 404
    assert f"No connector {foreign.id} in the space “Default”." in missing.content.decode()
    admin_client.post(url("bulk_delete"), {"ids": [foreign.id], "confirm": "yes"})
    assert Connector.objects.filter(pk=foreign.id).exists()


# ---- privileges -------------------------------------------------------------------------------


def test_a_read_user_sees_no_edit_controls_and_cannot_reach_them(default_space, staff_user):
    connector = server_log(default_space)
    reader = login(staff_user("reader", default="read"))

    listing = reader.get(LIST).content.decode()

    assert "Audit log" in listing
    assert "Create connector" not in listing
    assert url("delete", connector.id) not in listing
    assert 'name="ids"' not in listing
    view = reader.get(url("view", connector.id)).content.decode()
    assert 'id="cx-connector-form"' not in view
    assert "your privilege in this space is <strong>read</strong>" in view
    assert reader.get(url("change", connector.id)).status_code == 403
    refused = reader.get(url("add"))
    assert refused.status_code == 403
    assert "You may only read connectors in the space “Default”." in refused.content.decode()
    assert 'rel="icon"' in refused.content.decode()
    assert reader.post(url("change", connector.id), {"name": "x"}).status_code == 403
    assert reader.post(url("delete", connector.id), {"confirm": "yes"}).status_code == 403
    assert reader.post(url("bulk_delete"), {"ids": [connector.id], "confirm": "yes"}).status_code == 403
    assert reader.get(url("fix", connector.id)).status_code == 403
    assert Connector.objects.filter(pk=connector.id, name="Audit log").exists()


def test_a_read_user_may_run_the_test_tab_as_kibana_allows(default_space, staff_user):
    connector = server_log(default_space)
    reader = login(staff_user("reader", default="read"))

    page = reader.post(
        url("test", connector.id), {"params__message": "hi", "params__level": "info"}
    ).content.decode()

    assert "Test was successful" in page


def test_spaces_without_privilege_are_not_offered(default_space, other_space, staff_user):
    server_log(other_space, "Marketing log")
    user = login(staff_user("dev", default="all"))

    page = user.get(LIST, {"space": "marketing"}).content.decode()

    assert '<option value="marketing"' not in page
    assert "Marketing log" not in page


def test_a_user_without_any_privilege_gets_no_connectors(default_space, staff_user):
    server_log(default_space)
    nobody = login(staff_user("nobody"))

    assert nobody.get(LIST).status_code == 403
    assert "Audit log" not in nobody.get(LIST).content.decode()
    assert LIST not in nobody.get("/admin/").content.decode()


@pytest.mark.parametrize("path", ["/admin/", LIST])
def test_pages_carry_the_favicon_and_the_space_switcher(admin_client, path):
    page = admin_client.get(path).content.decode()

    assert 'rel="icon" href="/static/connectors/favicon.svg"' in page
    assert 'id="cx-space"' in page


def test_an_unknown_space_falls_back_to_the_default(admin_client, default_space):
    server_log(default_space)
    Space.objects.create(id="secret-ops", name="Secret Ops")

    page = admin_client.get(LIST, {"space": "no-such-space"}).content.decode()

    assert "Audit log" in page


def test_a_user_with_a_privilege_may_log_in_without_staff_status(client, default_space, django_user_model):
    from connectors.models import SpacePrivilege

    granted = django_user_model.objects.create_user("granted", "", "granted-password-1")
    SpacePrivilege.objects.create(space=default_space, user=granted, privilege="read")
    django_user_model.objects.create_user("stranger", "", "stranger-password-1")

    allowed = client.post("/admin/login/", {"username": "granted", "password": "granted-password-1"})
    client.logout()
    refused = client.post("/admin/login/", {"username": "stranger", "password": "stranger-password-1"})

    assert allowed.status_code == 302
    assert refused.status_code == 200
    assert "Please enter the correct username and password" in refused.content.decode()


def test_a_privileged_non_staff_user_sees_connectors_but_nothing_else(default_space, django_user_model):
    from connectors.models import SpacePrivilege

    user = django_user_model.objects.create_user("granted", "", "granted-password-1")
    SpacePrivilege.objects.create(space=default_space, user=user, privilege="all")
    client = login(user)

    index = client.get("/admin/").content.decode()

    assert LIST in index
    assert "/admin/auth/user/" not in index
    assert client.get("/admin/auth/user/").status_code == 403
    assert client.get(url("add")).status_code == 200


def test_other_areas_can_add_buttons_to_the_list(admin_client, settings, tmp_path):
    folder = tmp_path / "admin" / "saved_objects"
    folder.mkdir(parents=True)
    (folder / "connectors_list_actions.html").write_text(
        '<a class="button" id="import">Import {{ space.name }}</a>'
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]

    page = admin_client.get(LIST).content.decode()

    assert '<a class="button" id="import">Import Default</a>' in page
