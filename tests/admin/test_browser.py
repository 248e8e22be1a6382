"""The admin in a real browser: Debian's Chromium, headless, driven by Playwright against the live
server. With CONNECTORS_UPDATE_SCREENSHOTS=1 these tests also refresh the screenshots shown in the
README (docs/screenshots/); otherwise they write them into pytest's tmp_path, leaving the tree clean."""

import os
import re
from pathlib import Path

import pytest

from actions.services import RunInfo, execute
from connectors.models import Connector, SpacePrivilege
from connectors.services import create_connector

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SECRET = "marker-secret-b7c41e"
PASSWORD = "changeme-please"  # the `superuser` fixture's

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.usefixtures("chromium_installed"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make while
    # it runs are ordinary synchronous calls.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Session:
    """One browser tab with its console errors and failed requests recorded."""

    def __init__(self, browser, base_url, shots_dir, width=1280, height=860):
        self.shots_dir = shots_dir
        self.context = browser.new_context(viewport={"width": width, "height": height}, base_url=base_url)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on(
            "response",
            lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status} {r.url}"),
        )

    def login(self, username, password=PASSWORD):
        self.page.goto("/admin/login/?next=/admin/connectors/connector/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("input[type=submit]")
        self.page.wait_for_url("**/admin/connectors/connector/")

    def shot(self, name):
        self.shots_dir.mkdir(parents=True, exist_ok=True)
        # a full-page capture stretches the viewport; keep the sticky sidebar at the top for it
        # (through the CSSOM: the admin's CSP refuses an added <style> element)
        self.page.evaluate(
            "document.querySelector('#nav-sidebar')?.style.setProperty('position', 'static', 'important')"
        )
        self.page.screenshot(path=str(self.shots_dir / f"{name}.png"), full_page=True)

    def close(self):
        self.context.close()


def screenshots_dir(tmp_path) -> Path:
    """docs/screenshots/ only when asked to refresh them, so `make test` leaves the tree clean."""
    if os.environ.get("CONNECTORS_UPDATE_SCREENSHOTS") == "1":
        return SCREENSHOTS
    return tmp_path / "screenshots"


@pytest.fixture
def session(browser, live_server, transactional_db, default_space, superuser, tmp_path):
    sessions = []
    shots_dir = screenshots_dir(tmp_path)

    def open_session(**kwargs):
        opened = Session(browser, live_server.url, shots_dir, **kwargs)
        sessions.append(opened)
        return opened

    yield open_session
    for opened in sessions:
        opened.close()


def visible_rows(page):
    return page.locator("#cx-connectors tbody tr[data-connector-id] .cx-name").all_inner_texts()


def test_a_person_creates_a_webhook_in_the_wizard_tests_it_and_reads_its_log(session, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    tab = session()
    page = tab.page
    tab.login("elastic")

    page.click("#cx-create")
    page.wait_for_selector("#cx-type-grid")
    tab.shot("type-grid")
    page.fill("#cx-type-search", "web")
    assert page.locator('[data-type-id=".webhook"]').is_visible()
    assert not page.locator('[data-type-id=".server-log"]').is_visible()
    # keyboard only from the search box to the Webhook card
    page.focus("#cx-type-search")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.typeId") == ".webhook"
    page.keyboard.press("Enter")

    page.wait_for_selector("#cx-connector-form")
    page.fill("#id_name", "Ops webhook")
    page.fill("#id_config__url", httpserver.url_for("/hook"))
    page.fill("#id_config__headers", '{"Content-Type": "application/json"}')
    page.fill("#id_secrets__user", "ops-bot")
    page.fill("#id_secrets__password", SECRET)
    tab.shot("form")
    page.click("button[name=_test]")

    page.wait_for_selector("#cx-test-form")
    page.fill("#id_params__body", '{"text": "hello from the Test tab"}')
    page.click("#cx-run")
    page.wait_for_selector("[data-outcome=success]")
    assert "Test was successful" in page.inner_text("#cx-test-result")
    tab.shot("test-tab")
    request, _ = httpserver.log[0]
    assert request.get_data(as_text=True) == '{"text": "hello from the Test tab"}'
    assert request.headers["Content-Type"] == "application/json"
    assert request.authorization.username == "ops-bot"

    page.click("a.cx-tab:has-text('Logs')")
    page.wait_for_selector("#connector-log")
    assert page.locator("#connector-log-table tbody tr.log-success").count() == 1
    tab.shot("logs-tab")

    page.click("a.cx-tab:has-text('Configuration')")
    page.wait_for_selector("#cx-connector-form")
    assert page.input_value("#id_config__url") == httpserver.url_for("/hook")
    assert page.input_value("#id_secrets__password") == ""
    assert page.input_value("#id_secrets__user") == ""
    tab.shot("edit")
    assert SECRET not in page.content()
    assert tab.problems == []


def test_search_type_filter_sort_and_bulk_delete(session, default_space, httpserver):
    httpserver.expect_request("/ok").respond_with_data("ok")
    httpserver.expect_request("/down").respond_with_json({"message": "maintenance"}, status=503)
    hook = create_connector(
        default_space,
        name="Ops webhook",
        type_id=".webhook",
        config={"url": httpserver.url_for("/ok"), "hasAuth": False},
        secrets={},
    )
    broken = create_connector(
        default_space,
        name="Billing webhook",
        type_id=".webhook",
        config={"url": httpserver.url_for("/down"), "hasAuth": False},
        secrets={},
    )
    audit = create_connector(default_space, name="Audit log", type_id=".server-log", config={}, secrets={})
    create_connector(
        default_space, name="Alert history", type_id=".index", config={"index": "alerts"}, secrets={}
    )
    execute(hook, {"body": "{}"}, RunInfo(source="admin_test"))
    execute(broken, {"body": "{}"}, RunInfo(source="admin_test"))
    Connector.objects.create(
        space=default_space,
        name="Imported PagerDuty",
        connector_type_id=".webhook",
        config={"url": httpserver.url_for("/ok"), "hasAuth": False},
        is_missing_secrets=True,
    )
    tab = session()
    page = tab.page
    tab.login("elastic")
    tab.shot("list")

    page.fill("#cx-search", "webhook")
    with page.expect_navigation(url=re.compile(r"q=webhook")):
        page.press("#cx-search", "Enter")
    assert sorted(visible_rows(page)) == ["Billing webhook", "Imported PagerDuty", "Ops webhook"]

    with page.expect_navigation():
        page.click("a:has-text('Clear')")
    with page.expect_navigation(url=re.compile(r"type=.server-log")):
        page.select_option("#cx-type-filter", ".server-log")  # submits on change
    assert visible_rows(page) == ["Audit log"]

    page.goto("/admin/connectors/connector/?sort=-name")
    assert visible_rows(page) == sorted(visible_rows(page), reverse=True)

    page.goto("/admin/connectors/connector/")
    page.check(f"input[name=ids][value='{hook.id}']")
    page.check(f"input[name=ids][value='{audit.id}']")
    assert page.inner_text("[data-selected-count]") == "2 selected"
    page.click("#cx-bulk-delete")
    page.wait_for_selector("#cx-confirm-delete")
    assert "Delete 2 connectors?" in page.inner_text("h1")
    assert page.locator("[data-used-by]").all_inner_texts() == ["used by 0 rules", "used by 0 rules"]
    page.click("#cx-confirm-delete")
    page.wait_for_selector(".messagelist")
    assert "Deleted 2 connectors." in page.inner_text(".messagelist")
    assert not Connector.objects.filter(pk__in=[hook.id, audit.id]).exists()
    assert Connector.objects.filter(pk=broken.id).exists()

    # the trash icon, by keyboard alone
    page.focus(f"tr[data-connector-id='{broken.id}'] a[aria-label='Delete Billing webhook']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Delete 1 connector?" in page.inner_text("h1")
    page.focus("#cx-confirm-delete")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert not Connector.objects.filter(pk=broken.id).exists()
    assert tab.problems == []


def test_fixing_an_imported_connector_restores_its_secrets(session, default_space, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    imported = Connector.objects.create(
        space=default_space,
        name="Imported hook",
        connector_type_id=".webhook",
        config={"url": httpserver.url_for("/hook"), "method": "post", "hasAuth": True},
        is_missing_secrets=True,
    )
    tab = session()
    page = tab.page
    tab.login("elastic")

    page.click(f"tr[data-connector-id='{imported.id}'] a:has-text('Fix')")
    page.wait_for_selector("#cx-connector-form")
    assert page.locator("#id_config__url").count() == 0  # only the secrets are asked for
    page.fill("#id_secrets__user", "ops-bot")
    page.fill("#id_secrets__password", SECRET)
    page.click("button[name=_save]")
    page.wait_for_selector(".messagelist")

    imported.refresh_from_db()
    assert imported.is_missing_secrets is False
    assert imported.get_secrets()["password"] == SECRET
    page.click("a.cx-tab:has-text('Test')")
    page.click("#cx-run")
    page.wait_for_selector("[data-outcome=success]")
    assert httpserver.log[0][0].authorization.password == SECRET
    assert tab.problems == []


def test_a_read_user_cannot_edit(session, default_space, django_user_model):
    connector = create_connector(
        default_space, name="Audit log", type_id=".server-log", config={}, secrets={}
    )
    reader = django_user_model.objects.create_user("reader", "", "reader-password-1")  # not staff
    SpacePrivilege.objects.create(space=default_space, user=reader, privilege="read")
    tab = session()
    page = tab.page
    tab.login("reader", "reader-password-1")

    assert visible_rows(page) == ["Audit log"]
    assert page.locator("#cx-create").count() == 0
    assert page.locator("input[name=ids]").count() == 0
    assert page.locator(".cx-icon-button.cx-danger").count() == 0
    page.click("text=Audit log")
    assert page.locator("#cx-connector-form").count() == 0
    assert "your privilege in this space is read" in page.inner_text(".cx-panel")
    for path in ("add/", f"{connector.id}/change/", f"{connector.id}/fix/", f"{connector.id}/delete/"):
        assert page.request.get(f"/admin/connectors/connector/{path}").status == 403
    assert tab.problems == []


def test_the_list_fits_a_phone_screen(session, default_space):
    create_connector(default_space, name="Audit log", type_id=".server-log", config={}, secrets={})
    create_connector(
        default_space,
        name="Ops webhook",
        type_id=".webhook",
        config={"url": "http://127.0.0.1:9/", "hasAuth": False},
        secrets={},
    )
    tab = session(width=390, height=844)
    page = tab.page
    tab.login("elastic")

    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    tab.shot("list-phone")
    page.goto("/admin/connectors/connector/add/")
    grid_overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")

    assert overflow <= 0
    assert grid_overflow <= 0
    assert tab.problems == []
