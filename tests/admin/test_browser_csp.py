"""The admin's Content-Security-Policy (connectors/security_headers.py) in Chromium: every main page
is sent with it and nothing on them (scripts, styles, images, forms) is refused by it. A refusal is
a `securitypolicyviolation` event and a console error; both are collected while the pages are used."""

import pytest
from django.utils import timezone

from actions.models import MaintenanceWindow, Rule
from actions.services import RunInfo, execute
from connectors.models import Connector
from connectors.security_headers import ADMIN_CONTENT_SECURITY_POLICY
from connectors.services import create_connector
from eventlog.models import Event
from tests.admin.test_browser import Session, browser, screenshots_dir  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("chromium_installed")]

RECORD_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  (window.__cspViolations = window.__cspViolations || []).push(
    `${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`
  );
});
"""


def test_no_admin_page_breaks_under_the_content_security_policy(
    browser,  # noqa: F811
    live_server,
    transactional_db,
    default_space,
    superuser,
    tmp_path,
    httpserver,
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    hook = create_connector(
        default_space,
        name="Ops webhook",
        type_id=".webhook",
        config={"url": httpserver.url_for("/hook"), "hasAuth": False},
        secrets={},
    )
    execute(hook, {"body": "{}"}, RunInfo(source="admin_test"))
    imported = Connector.objects.create(
        space=default_space,
        name="Imported hook",
        connector_type_id=".webhook",
        config={"url": httpserver.url_for("/hook"), "method": "post", "hasAuth": True},
        is_missing_secrets=True,
    )
    rule = Rule.objects.create(
        space=default_space,
        name="CPU high",
        rule_type_id=".index-threshold",
        consumer="alerts",
        enabled=False,
        execution_status={"status": "error"},
    )
    window = MaintenanceWindow.objects.create(
        space=default_space, title="Freeze", expiration_date=timezone.now() + timezone.timedelta(days=1)
    )
    tab = Session(browser, live_server.url, screenshots_dir(tmp_path))
    page = tab.page
    page.add_init_script(RECORD_VIOLATIONS)
    policies = {}
    page.on(
        "response",
        lambda r: (
            r.request.resource_type == "document"
            and policies.setdefault(r.url, r.headers.get("content-security-policy"))
        ),
    )
    violations = []

    def collect():
        violations.extend(page.evaluate("window.__cspViolations || []"))

    tab.login("elastic")
    collect()
    base = "/admin/connectors/connector"
    walk = [
        "/admin/",
        f"{base}/",
        f"{base}/add/",
        f"{base}/add/?type=.webhook",
        f"{base}/add/?type=.email",
        f"{base}/{hook.id}/change/",
        f"{base}/{hook.id}/test/",
        f"{base}/{hook.id}/logs/",
        f"{base}/{hook.id}/rules/",
        f"{base}/{hook.id}/delete/",
        f"{base}/{imported.id}/fix/",
        "/admin/actions/rule/",
        "/admin/actions/rule/add/",
        "/admin/actions/rule/add/?rule_type=.index-threshold&space=default",
        f"/admin/actions/rule/{rule.id}/change/",
        f"/admin/actions/rule/{rule.id}/change/?tab=alerts",
        f"/admin/actions/rule/{rule.id}/change/?tab=log",
        "/admin/actions/maintenancewindow/",
        "/admin/actions/maintenancewindow/add/",
        f"/admin/actions/maintenancewindow/{window.pk}/change/",
        "/admin/actions/actionrun/",
        "/admin/eventlog/event/",
        f"/admin/eventlog/event/{Event.objects.filter(connector_id=hook.id).first().pk}/change/",
        "/admin/saved-objects/export/",
        "/admin/saved-objects/import/",
        "/admin/connectors/space/",
        "/admin/connectors/apikey/add/",
    ]
    for path in walk:
        page.goto(path)
        page.wait_for_load_state("load")
        collect()

    # and use them: the wizard's fields follow the choices, the Test tab runs, the rule editor previews
    page.goto(f"{base}/add/?type=.webhook")
    page.select_option("#id_config__authType", "webhook-authentication-ssl")
    collect()
    page.goto(f"{base}/{hook.id}/test/")
    page.fill("#id_params__body", "{}")
    page.click("#cx-run")
    page.wait_for_selector("[data-outcome=success]")
    collect()
    page.goto("/admin/actions/rule/add/?rule_type=.index-threshold&space=default")
    page.fill("#id_name", "CPU high")
    with page.expect_navigation():
        page.click(f"button[data-connector-id='{hook.id}']")
    page.wait_for_selector("#rx-action-0")
    page.click("#rx-action-0 .rx-variables > summary")
    collect()

    assert violations == []
    assert [p for p in tab.problems if "Content Security Policy" in p or "Refused" in p] == []
    assert tab.problems == []
    admin_pages = {url: policy for url, policy in policies.items() if "/admin/" in url}
    assert len(admin_pages) >= len(walk)
    assert set(admin_pages.values()) == {ADMIN_CONTENT_SECURITY_POLICY}
    tab.close()
