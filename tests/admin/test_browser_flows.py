"""The issue-19 flows in Chromium at a laptop (1366x900) and a phone (390x844) size: forms whose
fields follow the choices, file inputs for certificates, every error at once, the event log, the
home dashboard and long names. Each page: no horizontal scrolling and no console errors.
CONNECTORS_UPDATE_SCREENSHOTS=1 refreshes the screenshots in docs/screenshots/ (laptop size, plus
the phone list)."""

import base64
import re

import pytest

from actions.services import RunInfo, execute
from connectors.models import Connector
from connectors.services import create_connector
from tests.admin.test_browser import Session, browser, screenshots_dir  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("chromium_installed")]

SIZES = {"laptop": (1366, 900), "phone": (390, 844)}
LONG_NAME = "billing-" + "x" * 92  # 100 characters without a space


@pytest.fixture(params=list(SIZES))
def tab(request, browser, live_server, transactional_db, default_space, superuser, tmp_path):  # noqa: F811
    width, height = SIZES[request.param]
    opened = Session(browser, live_server.url, screenshots_dir(tmp_path), width=width, height=height)
    opened.size = request.param
    opened.login("elastic")
    yield opened
    opened.close()


def overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def shot(tab, name):
    if tab.size == "laptop":
        tab.shot(name)


def visible(page, selector) -> bool:
    return page.locator(selector).is_visible()


def test_webhook_fields_follow_the_authentication_choice(tab, tmp_path, httpserver):
    page = tab.page
    page.goto("/admin/connectors/connector/add/?type=.webhook")
    page.wait_for_selector("#cx-connector-form")

    assert visible(page, "#id_secrets__user") and visible(page, "#id_secrets__password")
    assert not visible(page, "#id_secrets__crt") and not visible(page, "#id_config__accessTokenUrl")
    assert page.locator("#id_config__authType option:checked").inner_text() == "Basic authentication"

    page.select_option("#id_config__authType", "webhook-authentication-ssl")
    assert visible(page, "#id_config__certType") and visible(page, "#id_secrets__crt")
    assert not visible(page, "#id_secrets__user") and not visible(page, "#id_secrets__pfx")
    page.select_option("#id_config__certType", "ssl-pfx")
    assert visible(page, "#id_secrets__pfx") and not visible(page, "#id_secrets__crt")
    page.select_option("#id_config__authType", "webhook-oauth2-client-credentials")
    assert visible(page, "#id_config__accessTokenUrl") and visible(page, "#id_secrets__clientSecret")
    assert not visible(page, "#id_config__certType")

    page.uncheck("#id_config__hasAuth")
    for selector in ("#id_config__authType", "#id_secrets__user", "#id_secrets__clientSecret"):
        assert not visible(page, selector), selector

    # SSL with files chosen in the form: it stores their base64
    page.check("#id_config__hasAuth")
    page.select_option("#id_config__authType", "webhook-authentication-ssl")
    page.select_option("#id_config__certType", "ssl-crt-key")
    crt, key = tmp_path / "client.crt", tmp_path / "client.key"
    crt.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n")
    page.set_input_files("input[data-base64-for=id_secrets__crt]", str(crt))
    page.set_input_files("input[data-base64-for=id_secrets__key]", str(key))
    page.wait_for_selector("[data-file-note-for=id_secrets__key]:has-text('client.key loaded')")
    page.fill("#id_name", "Mutual TLS hook")
    page.fill("#id_config__url", httpserver.url_for("/hook"))
    assert overflow(page) <= 0
    shot(tab, "form-webhook-ssl")
    with page.expect_navigation():
        page.click("button[name=_save]")

    saved = Connector.objects.get(name="Mutual TLS hook")
    assert saved.config["authType"] == "webhook-authentication-ssl"
    assert base64.b64decode(saved.get_secrets()["crt"]) == crt.read_bytes()
    assert tab.problems == []


def test_email_fields_follow_the_service(tab):
    page = tab.page
    page.goto("/admin/connectors/connector/add/?type=.email")
    page.wait_for_selector("#cx-connector-form")
    assert "Create an Email connector" in page.inner_text("h1")

    assert visible(page, "#id_config__host") and not visible(page, "#id_config__tenantId")
    page.select_option("#id_config__service", "gmail")
    assert not visible(page, "#id_config__host") and not visible(page, "#id_config__port")
    assert visible(page, "#id_secrets__password")
    page.select_option("#id_config__service", "exchange_server")
    assert visible(page, "#id_config__tenantId") and visible(page, "#id_secrets__clientSecret")
    assert not visible(page, "#id_secrets__password") and not visible(page, "#id_config__hasAuth")
    page.select_option("#id_config__service", "other")
    assert overflow(page) <= 0
    shot(tab, "form-email")
    assert tab.problems == []


def test_every_problem_shows_at_once_and_typed_secrets_stay(tab):
    page = tab.page
    page.goto("/admin/connectors/connector/add/?type=.webhook")
    page.fill("#id_secrets__password", "typed-here-1")
    with page.expect_navigation():
        page.click("button[name=_save]")

    errors = page.locator(".cx-field--error").count()
    assert errors >= 3  # name, URL and username, in one submit
    assert page.input_value("#id_secrets__password") == "typed-here-1"
    assert page.evaluate("document.activeElement.id") == "id_name"
    assert overflow(page) <= 0
    shot(tab, "form-errors")
    # the rejected submit answers 400 on purpose; nothing else may fail
    expected = re.compile(r"HTTP 400 .*/add/|console: Failed to load resource: .* 400 \(Bad Request\)")
    assert [p for p in tab.problems if not expected.match(p)] == []


def test_the_event_log_and_an_event_read_well(tab, default_space, httpserver):
    httpserver.expect_request("/down").respond_with_json({"message": "maintenance window"}, status=503)
    httpserver.expect_request("/ok").respond_with_data("ok")
    broken = create_connector(
        default_space,
        name=LONG_NAME,
        type_id=".webhook",
        config={"url": httpserver.url_for("/down"), "hasAuth": False},
        secrets={},
    )
    fine = create_connector(
        default_space,
        name="Ops webhook",
        type_id=".webhook",
        config={"url": httpserver.url_for("/ok"), "hasAuth": False},
        secrets={},
    )
    execute(broken, {"body": "{}"}, RunInfo(source="admin_test"))
    execute(fine, {"body": "{}"}, RunInfo(source="admin_test"))
    page = tab.page

    page.goto("/admin/eventlog/event/?action=execute")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list .cx-badge--danger").count() == 1
    assert page.locator("#result_list .cx-badge--ok").count() == 1
    assert "maintenance window" in page.inner_text("#result_list")
    if tab.size == "laptop":
        assert overflow(page) <= 0
        # every column on screen: the results table does not scroll inside its frame either
        assert page.evaluate("(e => e.scrollWidth - e.clientWidth)(document.querySelector('.results'))") <= 0
    shot(tab, "event-log")

    with page.expect_navigation():
        page.click("#result_list .cx-badge--danger >> xpath=ancestor::tr//th//a")
    page.wait_for_selector("#cx-event")
    assert "What ran" in page.inner_text("#cx-event")
    assert "maintenance window" in page.inner_text("#cx-event .cx-callout")
    assert overflow(page) <= 0
    shot(tab, "event-detail")
    assert tab.problems == []


def test_the_home_is_a_dashboard(tab, default_space, httpserver):
    httpserver.expect_request("/down").respond_with_json({"message": "maintenance window"}, status=503)
    broken = create_connector(
        default_space,
        name="Billing webhook",
        type_id=".webhook",
        config={"url": httpserver.url_for("/down"), "hasAuth": False},
        secrets={},
    )
    execute(broken, {"body": "{}"}, RunInfo(source="admin_test"))
    page = tab.page

    page.goto("/admin/")
    assert "Billing webhook" in page.inner_text("#cx-home-failing")
    assert "maintenance window" in page.inner_text("#cx-home-failures")
    assert page.locator("#cx-home-workers [data-queue-ready]").is_visible()
    assert page.locator("#cx-home-tasks a:has-text('Create connector')").is_visible()
    assert overflow(page) <= 0
    shot(tab, "home")
    assert tab.problems == []


def test_long_names_do_not_widen_the_list_and_phones_get_cards(tab, default_space, httpserver):
    httpserver.expect_request("/ok").respond_with_data("ok")
    long_one = create_connector(
        default_space,
        name=LONG_NAME,
        type_id=".webhook",
        config={"url": httpserver.url_for("/ok"), "hasAuth": False},
        secrets={},
    )
    create_connector(default_space, name="Audit log", type_id=".server-log", config={}, secrets={})
    execute(long_one, {"body": "{}"}, RunInfo(source="admin_test"))
    page = tab.page

    page.goto("/admin/connectors/connector/")
    row = page.locator(f"tr[data-connector-id='{long_one.id}']")
    assert row.locator(".cx-name").get_attribute("title") == LONG_NAME
    assert overflow(page) <= 0
    for selector in (".cx-col-outcome .cx-badge", f"a[aria-label='Delete {LONG_NAME}']"):
        box = row.locator(selector).bounding_box()
        assert box and box["x"] + box["width"] <= SIZES[tab.size][0], selector
    if tab.size == "phone":
        assert row.locator(".cx-col-type").is_visible()
        assert not row.locator(".cx-col-rules").is_visible()
        assert page.locator("#cx-connectors thead").is_hidden()
        tab.shot("list-phone")
    page.goto(f"/admin/connectors/connector/{long_one.id}/change/")
    assert overflow(page) <= 0
    assert tab.problems == []


def test_the_api_keys_curl_line_has_a_copy_button(tab, superuser):
    page = tab.page
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/admin/connectors/apikey/add/")
    page.fill("#id_name", "ci")
    page.select_option("#id_user", str(superuser.pk))
    with page.expect_navigation():
        page.click("input[name=_save]")

    page.click("#cx-copy-curl")
    page.wait_for_selector("#cx-copy-curl:has-text('Copied')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.inner_text("#api-key-example").strip()
    assert copied.startswith('curl -H "Authorization: ApiKey ')
    assert overflow(page) <= 0
    assert tab.problems == []


def test_import_and_export_pages_look_like_the_rest(tab):
    page = tab.page
    for path, heading in (
        ("/admin/saved-objects/import/", "Import"),
        ("/admin/saved-objects/export/", "Export"),
    ):
        page.goto(path)
        assert page.inner_text("h1") == f"{heading} saved objects"
        assert page.locator(f"button.cx-button-primary:has-text('{heading}')").is_visible()
        assert overflow(page) <= 0
    assert tab.problems == []
