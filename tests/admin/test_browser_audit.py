"""What a person meets walking the admin in Chromium for the common connector types: typed inputs
instead of JSON (HTTP headers, the Test tab of sub-action types), and each error on its field."""

import pytest

from connectors.models import Connector
from connectors.services import create_connector
from tests.admin.test_browser import Session, browser, screenshots_dir  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("chromium_installed")]
SECRET = "audit-secret-5d1e0a"


@pytest.fixture
def tab(browser, live_server, transactional_db, default_space, superuser, tmp_path):  # noqa: F811
    opened = Session(browser, live_server.url, screenshots_dir(tmp_path))
    opened.login("elastic")
    yield opened
    opened.close()


def save(page):
    with page.expect_navigation():
        page.click("button[name=_save]")


def test_webhook_headers_are_typed_as_name_value_lines_and_shown_that_way_on_edit(tab, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    page = tab.page
    page.goto("/admin/connectors/connector/add/?type=.webhook")
    page.fill("#id_name", "Headers hook")
    page.fill("#id_config__url", httpserver.url_for("/hook"))
    page.uncheck("#id_config__hasAuth")
    page.fill("#id_config__headers", "X-Team: ops\nX-Trace: a:b")
    save(page)

    saved = Connector.objects.get(name="Headers hook")
    assert saved.config["headers"] == {"X-Team": "ops", "X-Trace": "a:b"}
    page.goto(f"/admin/connectors/connector/{saved.id}/change/")
    assert page.input_value("#id_config__headers") == "X-Team: ops\nX-Trace: a:b"
    assert tab.problems == []


def test_a_header_line_without_a_colon_is_refused_on_its_field_and_the_text_stays(tab, httpserver):
    page = tab.page
    page.goto("/admin/connectors/connector/add/?type=.webhook")
    page.fill("#id_name", "Bad headers")
    page.fill("#id_config__url", httpserver.url_for("/hook"))
    page.fill("#id_config__headers", "X-Team ops")
    page.fill("#id_secrets__user", "bot")
    page.fill("#id_secrets__password", SECRET)
    save(page)

    assert "Line 1" in page.inner_text("#id_config__headers_error")
    assert page.input_value("#id_config__headers") == "X-Team ops"
    assert page.input_value("#id_name") == "Bad headers"
    assert not Connector.objects.filter(name="Bad headers").exists()


def test_the_jira_test_tab_asks_for_the_issue_in_fields_not_json(tab, default_space, httpserver):
    httpserver.expect_request("/rest/api/2/issue", method="POST").respond_with_json(
        {"id": "10", "key": "PRJ-1"}
    )
    httpserver.expect_request("/rest/api/2/issue/10").respond_with_json(
        {"id": "10", "key": "PRJ-1", "fields": {"created": "2024-01-01T00:00:00.000+0000"}}
    )
    jira = create_connector(
        default_space,
        name="Jira",
        type_id=".jira",
        config={"apiUrl": httpserver.url_for("/"), "projectKey": "PRJ"},
        secrets={"email": "bot@example.com", "apiToken": SECRET},
    )
    page = tab.page
    page.goto(f"/admin/connectors/connector/{jira.id}/test/?space=default")
    assert page.locator("textarea[name=params__subActionParams]").count() == 0
    assert not page.locator("[name=params__subAction]").is_visible()  # pushToService, fixed
    page.fill("#id_params__subActionParams__incident__summary", "Disk full on web-1")
    page.fill("#id_params__subActionParams__incident__issueType", "10001")
    page.fill("#id_params__subActionParams__incident__labels", "disk\nweb")
    with page.expect_navigation():
        page.click("#cx-run")

    assert page.locator("[data-outcome=success]").is_visible(), page.inner_text("#cx-test-result")
    created = next(request for request, _ in httpserver.log if request.method == "POST")
    fields = created.get_json()["fields"]
    assert fields["summary"] == "Disk full on web-1" and fields["labels"] == ["disk", "web"]
    assert tab.problems == []


def test_a_jira_test_without_a_summary_says_so_on_the_summary_field(tab, default_space, httpserver):
    jira = create_connector(
        default_space,
        name="Jira",
        type_id=".jira",
        config={"apiUrl": httpserver.url_for("/"), "projectKey": "PRJ"},
        secrets={"email": "bot@example.com", "apiToken": SECRET},
    )
    page = tab.page
    page.goto(f"/admin/connectors/connector/{jira.id}/test/?space=default")
    page.fill("#id_params__subActionParams__incident__description", "kept")
    with page.expect_navigation():
        page.click("#cx-run")

    assert page.inner_text("#id_params__subActionParams__incident__summary_error").strip()
    assert page.input_value("#id_params__subActionParams__incident__description") == "kept"
    assert httpserver.log == []


def test_the_opsgenie_test_tab_creates_an_alert_from_fields(tab, default_space, httpserver):
    httpserver.expect_request("/v2/alerts", method="POST").respond_with_json(
        {"result": "Request will be processed", "took": 0.01, "requestId": "r-1"}, status=202
    )
    opsgenie = create_connector(
        default_space,
        name="Opsgenie",
        type_id=".opsgenie",
        config={"apiUrl": httpserver.url_for("/")},
        secrets={"apiKey": SECRET},
    )
    page = tab.page
    page.goto(f"/admin/connectors/connector/{opsgenie.id}/test/?space=default")
    page.fill("#id_params__subActionParams__message", "CPU high")
    page.fill("#id_params__subActionParams__tags", "cpu\nprod")
    with page.expect_navigation():
        page.click("#cx-run")

    assert page.locator("[data-outcome=success]").is_visible(), page.inner_text("#cx-test-result")
    request, _ = httpserver.log[0]
    assert request.get_json()["message"] == "CPU high" and request.get_json()["tags"] == ["cpu", "prod"]
    assert SECRET not in page.content()


def test_a_servicenow_username_left_blank_gets_kibanas_message_on_the_username_field(tab, httpserver):
    page = tab.page
    page.goto("/admin/connectors/connector/add/?type=.servicenow")
    page.fill("#id_name", "ITSM")
    page.fill("#id_config__apiUrl", httpserver.url_for("/"))
    page.fill("#id_secrets__password", SECRET)
    save(page)

    assert "must both be specified" in page.inner_text("#id_secrets__username_error")
    assert page.locator("#cx-form-errors ul").count() == 0  # nothing left without its field
    assert page.input_value("#id_config__apiUrl") == httpserver.url_for("/")
    assert not Connector.objects.filter(name="ITSM").exists()


def test_a_maintenance_window_start_in_the_wrong_format_is_said_on_the_start_field(tab):
    page = tab.page
    page.goto("/admin/actions/maintenancewindow/add/?space=default")
    page.fill("#id_title", "Nightly")
    page.fill("#id_start", "2030-03-01 08:00")
    page.fill("#id_duration", "2h")
    with page.expect_navigation():
        page.click("input[name=_save]")

    assert "Invalid schedule start date" in page.inner_text(".field-start .errorlist")
    assert page.locator(".errornote + .errorlist, form > div > .errorlist.nonfield").count() == 0
    assert page.input_value("#id_title") == "Nightly" and page.input_value("#id_duration") == "2h"


def test_a_rejected_submit_never_puts_a_typed_secret_in_the_html_yet_the_inputs_still_hold_it(tab):
    page = tab.page
    page.goto("/admin/connectors/connector/add/?type=.webhook")
    page.fill("#id_name", "No URL yet")
    page.fill("#id_secrets__user", "ops-bot")
    page.fill("#id_secrets__password", SECRET)
    page.fill("#id_secrets__secretHeaders", f"X-Key: {SECRET}-hdr")
    save(page)

    assert page.locator("#id_config__url_error").is_visible()
    assert SECRET not in page.content()
    assert page.input_value("#id_secrets__password") == SECRET
    assert page.input_value("#id_secrets__secretHeaders") == f"X-Key: {SECRET}-hdr"
    assert page.input_value("#id_secrets__user") == "ops-bot"  # a secrets member, put back too
    assert "ops-bot" not in page.content()
    page.reload()  # the tab kept them for that one navigation only
    assert page.input_value("#id_secrets__password") == ""


def test_the_fix_form_does_not_echo_a_typed_secret_either(tab, default_space, httpserver):
    imported = Connector.objects.create(
        space=default_space,
        name="Imported hook",
        connector_type_id=".webhook",
        config={
            "url": httpserver.url_for("/hook"),
            "hasAuth": True,
            "authType": "webhook-authentication-basic",
        },
        is_missing_secrets=True,
    )
    page = tab.page
    page.goto(f"/admin/connectors/connector/{imported.id}/fix/?space=default")
    page.fill("#id_secrets__password", SECRET)
    with page.expect_navigation():
        page.click("#content form button[type=submit]")

    assert page.locator("#id_secrets__user_error").is_visible()
    assert SECRET not in page.content()
    assert page.input_value("#id_secrets__password") == SECRET
    page.fill("#id_secrets__user", "ops-bot")
    with page.expect_navigation():
        page.click("#content form button[type=submit]")
    imported.refresh_from_db()
    assert not imported.is_missing_secrets and imported.get_secrets()["password"] == SECRET


def test_a_webhook_url_that_does_not_parse_is_said_on_the_url_field_without_the_api_prefixes(tab):
    page = tab.page
    page.goto("/admin/connectors/connector/add/?type=.webhook")
    page.fill("#id_name", "Typo hook")
    page.fill("#id_config__url", "not a url")
    page.uncheck("#id_config__hasAuth")
    save(page)

    assert page.inner_text("#id_config__url_error").strip() == "unable to parse url: Invalid URL: not a url"
    assert page.input_value("#id_config__url") == "not a url"


def test_the_openai_provider_is_chosen_from_a_select_as_its_label_says(tab, httpserver):
    page = tab.page
    page.goto("/admin/connectors/connector/add/?type=.gen-ai")
    options = page.locator("select#id_config__apiProvider option").all_inner_texts()
    assert options == ["OpenAI", "Azure OpenAI", "Other"]
    page.fill("#id_name", "Assistant")
    page.select_option("#id_config__apiProvider", "Other")
    page.fill("#id_config__apiUrl", httpserver.url_for("/v1/chat/completions"))
    page.fill("#id_config__defaultModel", "llama3")  # Other needs one
    page.fill("#id_secrets__apiKey", SECRET)
    save(page)
    errors = page.locator(".cx-errors").evaluate_all("els => els.map(e => e.id + ' ' + e.innerText)")
    assert Connector.objects.filter(name="Assistant").exists(), errors
    assert Connector.objects.get(name="Assistant").config["apiProvider"] == "Other"


def test_the_slack_api_test_tab_offers_its_message_types_as_a_select(tab, default_space):
    slack = create_connector(
        default_space, name="Slack bot", type_id=".slack_api", config={}, secrets={"token": SECRET}
    )
    page = tab.page
    page.goto(f"/admin/connectors/connector/{slack.id}/test/?space=default")
    assert page.locator("select#id_params__subAction option").all_inner_texts() == [
        "postMessage",
        "postBlockkit",
    ]
    assert page.locator("#id_params__subActionParams__text").is_visible()


def test_the_servicenow_form_asks_for_a_username_and_password_until_oauth_is_ticked(tab, httpserver):
    page = tab.page
    page.goto("/admin/connectors/connector/add/?type=.servicenow")
    assert (
        page.locator("#id_secrets__username").is_visible()
        and page.locator("#id_secrets__password").is_visible()
    )
    for oauth_only in ("#id_config__clientId", "#id_config__jwtKeyId", "#id_secrets__clientSecret"):
        assert not page.locator(oauth_only).is_visible(), oauth_only
    page.check("#id_config__isOAuth")
    assert (
        page.locator("#id_config__clientId").is_visible()
        and page.locator("#id_secrets__privateKey").is_visible()
    )
    assert not page.locator("#id_secrets__username").is_visible()

    page.fill("#id_name", "ITSM OAuth")
    page.fill("#id_config__apiUrl", httpserver.url_for("/"))
    page.fill("#id_config__clientId", "client-1")
    page.fill("#id_config__userIdentifierValue", "bot@example.com")
    page.fill("#id_config__jwtKeyId", "key-1")
    page.fill("#id_secrets__clientSecret", SECRET)
    page.fill("#id_secrets__privateKey", "-----BEGIN PRIVATE KEY-----")
    save(page)
    saved = Connector.objects.get(name="ITSM OAuth")
    assert saved.config["isOAuth"] is True and saved.config["clientId"] == "client-1"
