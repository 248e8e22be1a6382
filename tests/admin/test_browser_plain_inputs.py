"""In Chromium, a person fills the inputs that replaced JSON (Slack's allowed channels, the webhook's
OAuth additional fields, Jira's comments and PagerDuty's links on the Test tab, Swimlane's field
mappings) and we check what was stored or sent; and the list's sort links stay in the space being looked at."""

import pytest

from connectors.models import Connector
from connectors.services import create_connector
from tests.admin.test_browser import Session, browser, screenshots_dir  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("chromium_installed")]

SECRET = "marker-secret-4e2a90"


@pytest.fixture
def tab(browser, live_server, transactional_db, default_space, superuser, tmp_path):  # noqa: F811
    opened = Session(browser, live_server.url, screenshots_dir(tmp_path), width=1366, height=900)
    opened.login("elastic")
    yield opened
    opened.close()


def save(page):
    with page.expect_navigation():
        page.click("button[name=_save]")


def test_a_person_lists_the_allowed_slack_channels_row_by_row(tab):
    page = tab.page
    page.goto("/admin/connectors/connector/add/?type=.slack_api")
    page.wait_for_selector("#cx-connector-form")
    page.fill("#id_name", "Ops Slack")
    page.fill("#id_secrets__token", SECRET)
    page.fill("#id_config__allowedChannels__0__id", "C0123ABCD")
    page.fill("#id_config__allowedChannels__0__name", "#general")
    page.click("#id_config__allowedChannels [data-add-row]")
    page.fill("#id_config__allowedChannels__1__name", "ops-alerts")  # a channel without its id
    page.click("#id_config__allowedChannels [data-add-row]")
    page.fill("#id_config__allowedChannels__2__id", "C0999")
    page.fill("#id_config__allowedChannels__2__name", "gone")
    page.click("[aria-label='Remove row 3']")
    page.set_viewport_size({"width": 390, "height": 844})  # the rows fit a phone
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.set_viewport_size({"width": 1366, "height": 900})
    save(page)

    connector = Connector.objects.get(name="Ops Slack")
    assert connector.config["allowedChannels"] == [
        {"id": "C0123ABCD", "name": "#general"},
        {"id": None, "name": "ops-alerts"},
    ]

    page.goto(f"/admin/connectors/connector/{connector.id}/change/")
    assert page.input_value("#id_config__allowedChannels__1__name") == "ops-alerts"
    page.click("[aria-label='Remove row 1']")
    save(page)
    assert Connector.objects.get(pk=connector.pk).config["allowedChannels"] == [
        {"id": None, "name": "ops-alerts"}
    ]
    assert tab.problems == []


def test_a_person_types_the_oauth_additional_fields_as_name_value_lines(tab):
    page = tab.page
    page.goto("/admin/connectors/connector/add/?type=.webhook")
    page.wait_for_selector("#cx-connector-form")
    page.fill("#id_name", "OAuth hook")
    page.fill("#id_config__url", "http://127.0.0.1:9/hook")
    page.select_option("#id_config__authType", "webhook-oauth2-client-credentials")
    page.fill("#id_config__accessTokenUrl", "http://127.0.0.1:9/token")
    page.fill("#id_config__clientId", "client-1")
    page.fill("#id_config__additionalFields", "audience: https://api.example.com\nresource: orders")
    page.fill("#id_secrets__clientSecret", SECRET)
    save(page)

    connector = Connector.objects.get(name="OAuth hook")
    assert (
        connector.config["additionalFields"]
        == '{"audience": "https://api.example.com", "resource": "orders"}'
    )

    page.goto(f"/admin/connectors/connector/{connector.id}/change/")
    assert (
        page.input_value("#id_config__additionalFields")
        == "audience: https://api.example.com\nresource: orders"
    )
    page.fill("#id_config__additionalFields", "audience")
    page.click("button[name=_save]")
    page.wait_for_selector(".cx-field--error #id_config__additionalFields")
    assert "Line 1: write a name, a colon and the value" in page.inner_text(".cx-field--error")
    assert SECRET not in page.content()
    assert (
        Connector.objects.get(pk=connector.pk).config["additionalFields"]
        == connector.config["additionalFields"]
    )


def test_a_person_adds_comments_one_per_row_on_jiras_test_tab(tab, default_space, httpserver):
    httpserver.expect_request("/rest/api/2/issue", method="POST").respond_with_json(
        {"id": "10", "key": "OPS-1"}
    )
    httpserver.expect_request("/rest/api/2/issue/10", method="GET").respond_with_json(
        {
            "id": "10",
            "key": "OPS-1",
            "fields": {"created": "2024-01-01T00:00:00Z", "updated": "2024-01-01T00:00:00Z"},
        }
    )
    httpserver.expect_request("/rest/api/2/issue/10/comment", method="POST").respond_with_json(
        {"id": "c1", "created": "2024-01-01T00:00:00Z"}
    )
    connector = create_connector(
        default_space,
        name="Jira",
        type_id=".jira",
        config={"apiUrl": httpserver.url_for("/"), "projectKey": "OPS"},
        secrets={"email": "bot@example.com", "apiToken": SECRET},
    )
    page = tab.page
    page.goto(f"/admin/connectors/connector/{connector.id}/test/")
    page.fill("#id_params__subActionParams__incident__summary", "Disk full")
    page.fill("#id_params__subActionParams__incident__issueType", "10001")
    page.fill("#id_params__subActionParams__comments__0__comment", "First look: /var is full.\nCleaning up.")
    page.click("#id_params__subActionParams__comments [data-add-row]")
    page.fill("#id_params__subActionParams__comments__1__comment", "Done.")
    page.click("#cx-run")
    page.wait_for_selector("[data-outcome=success]")

    comments = [request.get_json() for request, _ in httpserver.log if request.path.endswith("/comment")]
    assert [comment["body"] for comment in comments] == ["First look: /var is full.\nCleaning up.", "Done."]
    assert tab.problems == []


def test_a_person_adds_pagerduty_links_as_address_and_text(tab, default_space, httpserver):
    httpserver.expect_request("/enqueue", method="POST").respond_with_json({"status": "success"}, status=202)
    connector = create_connector(
        default_space,
        name="Paging",
        type_id=".pagerduty",
        config={"apiUrl": httpserver.url_for("/enqueue")},
        secrets={"routingKey": SECRET},
    )
    page = tab.page
    page.goto(f"/admin/connectors/connector/{connector.id}/test/")
    page.select_option("#id_params__eventAction", "trigger")
    page.fill("#id_params__summary", "Disk full")
    page.fill("#id_params__links__0__href", "https://runbooks.example.com/disk")
    page.click("#cx-run")
    page.wait_for_selector(".cx-field--error")  # a link needs its text
    assert "Row 1: enter the text." in page.inner_text(".cx-field--error")
    assert httpserver.log == []

    page.fill("#id_params__links__0__text", "Runbook")
    page.click("#id_params__links [data-add-row]")
    page.fill("#id_params__links__1__href", "https://status.example.com")
    page.fill("#id_params__links__1__text", "Status page")
    page.fill("#id_params__customDetails", "[1]")
    page.click("#cx-run")
    page.wait_for_selector(".cx-field--error #id_params__customDetails")
    assert "Enter a JSON object, not a list." in page.inner_text(".cx-field--error")
    assert page.input_value("#id_params__links__1__text") == "Status page"  # the rows stay as typed

    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.fill("#id_params__customDetails", '{"disk": "/var"}')
    page.click("#cx-run")
    page.wait_for_selector("[data-outcome=success]")
    (request, _), *_ = httpserver.log
    assert request.get_json()["links"] == [
        {"href": "https://runbooks.example.com/disk", "text": "Runbook"},
        {"href": "https://status.example.com", "text": "Status page"},
    ]


def test_sorting_the_list_stays_in_the_space_on_screen(tab, other_space):
    create_connector(other_space, name="Marketing log", type_id=".server-log", config={}, secrets={})
    page = tab.page
    page.goto("/admin/connectors/connector/?space=marketing")
    page.goto("/admin/connectors/connector/?space=default")  # another tab switches back meanwhile
    page.go_back()
    page.click("#cx-connectors th a:has-text('Type')")
    page.wait_for_url("**sort=type**")
    assert "space=marketing" in page.url
    assert page.locator("#cx-connectors .cx-name").all_inner_texts() == ["Marketing log"]


def test_a_person_maps_swimlane_fields_one_row_each(tab):
    page = tab.page
    page.goto("/admin/connectors/connector/add/?type=.swimlane")
    page.wait_for_selector("#cx-connector-form")
    page.fill("#id_name", "Swimlane alerts")
    page.fill("#id_config__apiUrl", "http://127.0.0.1:9/api")
    page.fill("#id_config__appId", "app-1")
    page.fill("#id_secrets__apiToken", SECRET)
    page.get_by_label("Alert id field, field id").fill("a1")
    page.get_by_label("Alert id field, key").fill("alert-id")
    page.get_by_label("Alert id field, name").fill("Alert ID")
    page.get_by_label("Alert id field, field type").fill("text")
    page.fill("#id_config__mappings__commentsConfig__id", "c1")
    page.fill("#id_config__mappings__commentsConfig__key", "notes")
    page.fill("#id_config__mappings__commentsConfig__name", "Notes")
    page.fill("#id_config__mappings__commentsConfig__fieldType", "comments")
    page.select_option("#id_config__connectorType", "cases")  # the alert rows go, as in Kibana's form
    assert not page.is_visible("#id_config__mappings__alertIdConfig__key")
    assert page.is_visible("#id_config__mappings__caseIdConfig__key")
    page.select_option("#id_config__connectorType", "alerts")
    assert not page.is_visible("#id_config__mappings__caseIdConfig__key")
    page.set_viewport_size({"width": 390, "height": 844})  # the table fits a phone
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.set_viewport_size({"width": 1366, "height": 900})
    save(page)

    connector = Connector.objects.get(name="Swimlane alerts")
    mappings = connector.config["mappings"]
    assert mappings["alertIdConfig"] == {
        "id": "a1",
        "key": "alert-id",
        "name": "Alert ID",
        "fieldType": "text",
    }
    assert mappings["commentsConfig"]["fieldType"] == "comments"
    assert mappings["severityConfig"] is None

    page.goto(f"/admin/connectors/connector/{connector.id}/change/")
    assert page.input_value("#id_config__mappings__alertIdConfig__key") == "alert-id"
    page.fill("#id_config__mappings__commentsConfig__name", "")  # half a mapping
    save(page)
    assert "Comments field: enter the name." in page.inner_text("#cx-connector-form")
    assert Connector.objects.get(pk=connector.pk).config["mappings"] == mappings
    assert SECRET not in page.content()
    # the refused save answers 400 (and the browser says so in its console): nothing else went wrong
    assert [p for p in tab.problems if "400" not in p] == []
