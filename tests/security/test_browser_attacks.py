# ruff: noqa: F811  (pytest fixtures imported from the OAuth flow's own tests)
"""The admin and the browser-facing routes against an attacker.

Markup in anything a person or a remote service can store (names, descriptions, tags, action params,
alert ids, a service's error text in the event log) is shown as text on every admin page. `next=`
after login and on the delete pages, and the OAuth `returnUrl`, never send the browser to another
site. The admin's rule pages need Django's CSRF token. Answers forbid framing and MIME sniffing.
"""

import re
from html import unescape
from urllib.parse import urljoin, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from actions.models import Alert, MaintenanceWindow, Rule
from connectors.models import Connector, OAuthState, Space
from eventlog.models import Event
from tests.api.conftest import client_for, create_connector, grant, make_user
from tests.api.test_oauth_flow import PUBLIC, flow_type, make_connector, owner  # noqa: F401 (fixtures)
from tests.eventlog.factories import run_events

MARKUP = "<script>xss1</script>\"'><img src=x onerror=xss2>"


def markup_shown_as_code(html: str) -> bool:
    return "<script>xss1" in html or "<img src=x" in html


@pytest.fixture
def stored_markup(default_space, httpserver):
    """Markup everywhere a user, an import or a remote service can put text."""
    Space.objects.create(id="evil", name=MARKUP, description=MARKUP)
    hook = Connector(
        space=default_space,
        name=MARKUP,
        connector_type_id=".webhook",
        config={
            "url": httpserver.url_for("/hook"),
            "method": "post",
            "hasAuth": False,
            "headers": {MARKUP: MARKUP},
        },
    )
    hook.set_secrets({})
    hook.save()
    log = create_connector("default", name=MARKUP)
    create_connector("default", name=MARKUP, type_id=MARKUP[:60])  # an imported, unregistered type
    rule = Rule.objects.create(
        space=default_space,
        name=MARKUP,
        rule_type_id=".external",
        consumer="alerts",
        enabled=False,
        tags=[MARKUP],
        actions=[
            {
                "group": "default",
                "id": log.id,
                "actionTypeId": ".server-log",
                "params": {"message": MARKUP},
                "frequency": {"summary": False, "notify_when": "onActiveAlert", "throttle": None},
            }
        ],
        execution_status={"status": "error", "error": {"message": MARKUP, "reason": "execute"}},
        last_run={"outcome": "failed", "outcomeMsg": [MARKUP]},
    )
    Alert.objects.create(rule=rule, alert_id=MARKUP, status="active")
    MaintenanceWindow.objects.create(
        space=default_space, title=MARKUP, expiration_date=timezone.now() + timezone.timedelta(days=1)
    )
    run_events(connector_id=hook.id, type_id=".webhook", name=MARKUP, outcome="failure", error=MARKUP)
    # A remote service answers with markup in its error: it lands in the Test tab and the event log.
    httpserver.expect_request("/hook").respond_with_json({"message": MARKUP}, status=500)
    return {"hook": hook, "log": log, "rule": rule}


def test_markup_in_names_params_alerts_and_remote_errors_is_shown_as_text_on_every_admin_page(
    stored_markup, superuser
):
    client = Client()
    client.force_login(superuser)
    hook, log, rule = stored_markup["hook"], stored_markup["log"], stored_markup["rule"]
    tested = client.post(f"/admin/connectors/connector/{hook.id}/test/", {"params__body": "x"})
    assert "Test failed to run" in tested.content.decode()
    assert Event.objects.filter(connector_id=hook.id, source="admin_test").exists()
    connector_pages = [
        f"/admin/connectors/connector/{hook.id}/{tab}/" for tab in ("change", "test", "logs", "rules")
    ]
    pages = [
        "/admin/",
        "/admin/connectors/connector/",
        "/admin/connectors/connector/?space=evil",
        f"/admin/connectors/connector/?q={MARKUP}&type={MARKUP}&sort={MARKUP}",
        *connector_pages,
        f"/admin/connectors/connector/{hook.id}/delete/",
        f"/admin/connectors/connector/{log.id}/test/",
        f"/admin/connectors/connector/{hook.id}/logs/?log_from={MARKUP}&log_outcome={MARKUP}&other={MARKUP}",
        f"/admin/connectors/connector/{MARKUP}/",  # the id is said in the 404 page
        f"/admin/connectors/connector/add/?type={MARKUP}",
        "/admin/connectors/space/",
        "/admin/connectors/space/evil/change/",
        "/admin/actions/rule/",
        f"/admin/actions/rule/{rule.id}/change/",
        f"/admin/actions/rule/{rule.id}/change/?tab=alerts",
        f"/admin/actions/rule/{rule.id}/change/?tab=log",
        f"/admin/actions/rule/add/?rule_type=.external&connector={log.id}",
        f"/admin/actions/rule/{MARKUP}/change/",
        "/admin/actions/maintenancewindow/",
        "/admin/eventlog/event/",
        f"/admin/eventlog/event/?q={MARKUP}",
        *[f"/admin/eventlog/event/{pk}/change/" for pk in Event.objects.values_list("pk", flat=True)],
        "/admin/saved-objects/export/",
    ]
    shown = {}
    for page in pages:
        response = client.get(page)
        html = response.content.decode()
        assert not markup_shown_as_code(html), page
        shown[page] = "xss1" in html
    # the pages did show the stored text (as text), so the check above looked at something
    for page in (
        "/admin/",
        "/admin/connectors/connector/",
        f"/admin/actions/rule/{rule.id}/change/?tab=alerts",
    ):
        assert shown[page], page
    assert shown[f"/admin/connectors/connector/{hook.id}/logs/"]
    assert "&lt;script&gt;xss1" in tested.content.decode()


# ---- where the browser is sent ----------------------------------------------------------------------

OFF_SITE = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\t//evil.example",
    "https://evil.example",
    "HTTPS://evil.example",
    "https://testserver@evil.example",
    "http:evil.example",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_login_and_delete_next_never_leave_the_site(target, default_space, superuser):
    login = Client().post(
        "/admin/login/", {"username": "elastic", "password": "changeme-please", "next": target}
    )
    assert login.status_code == 302
    assert urlsplit(login["Location"]).netloc in ("", "testserver")
    assert urlsplit(login["Location"]).scheme in ("", "http")

    client = Client()
    client.force_login(superuser)
    connector = create_connector("default")
    page = client.get(
        f"/admin/connectors/connector/{connector.id}/delete/", {"next": target}
    ).content.decode()
    assert "evil" not in page and "javascript:" not in page
    nothing_to_delete = client.post("/admin/connectors/connector/delete/", {"next": target, "ids": ["nope"]})
    assert nothing_to_delete["Location"] == "/admin/connectors/connector/?space=default"


def test_a_refused_next_after_login_lands_on_the_admin_home_not_a_404(default_space, superuser):
    client = Client()
    login = client.post(
        "/admin/login/?next=//evil.example",
        {"username": "elastic", "password": "changeme-please", "next": "//evil.example"},
    )

    assert login["Location"] == reverse("admin:index")
    assert client.get(login["Location"]).status_code == 200


def test_the_delete_pages_next_never_sends_an_https_page_back_over_http(default_space, superuser):
    client = Client()
    client.force_login(superuser)
    connector = create_connector("default")

    page = client.get(
        f"/admin/connectors/connector/{connector.id}/delete/",
        {"next": "http://testserver/admin/connectors/connector/"},
        secure=True,
    ).content.decode()
    same_scheme = client.get(
        f"/admin/connectors/connector/{connector.id}/delete/",
        {"next": "https://testserver/admin/connectors/connector/?q=x"},
        secure=True,
    ).content.decode()

    assert "http://testserver" not in page
    assert 'href="/admin/connectors/connector/"' in page
    assert 'href="https://testserver/admin/connectors/connector/?q=x"' in same_scheme


@pytest.mark.parametrize(
    "return_url",
    [
        f"{PUBLIC}@evil.example/back",
        f"{PUBLIC}\\@evil.example/back",
        f"{PUBLIC}.evil.example/back",
        f"{PUBLIC}:443@evil.example/back",
        f"{PUBLIC}\t.evil.example/back",
        "https://evil.example/?" + PUBLIC,
        "http://connectors.example.com/back",  # another scheme is another origin
        "//evil.example/back",
        "https:\\\\evil.example/back",
        f"javascript:alert(1)//{PUBLIC}",
    ],
)
def test_a_return_url_on_another_origin_is_refused_however_it_is_spelled(
    return_url, owner, flow_type, kibana_settings
):
    kibana_settings.set({"server.publicBaseUrl": PUBLIC})
    connector = make_connector("default")

    response = client_for(owner, "basic").post(
        f"/internal/actions/connector/{connector.id}/_start_oauth_flow",
        {"returnUrl": return_url},
        format="json",
    )

    assert response.status_code == 400
    assert not OAuthState.objects.exists()


@pytest.mark.parametrize("return_url", ["http://[::1/back", f"{PUBLIC}\uff03@evil.example/back"])
def test_a_return_url_python_cannot_parse_is_a_400_not_a_500(return_url, owner, flow_type, kibana_settings):
    kibana_settings.set({"server.publicBaseUrl": PUBLIC})
    connector = make_connector("default")

    response = client_for(owner, "basic").post(
        f"/internal/actions/connector/{connector.id}/_start_oauth_flow",
        {"returnUrl": return_url},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["message"] == "[request body.returnUrl]: expected URI with scheme [http|https]."
    assert not OAuthState.objects.exists()


# ---- CSRF and headers ---------------------------------------------------------------------------------


def test_the_rule_pages_and_maintenance_windows_need_a_csrf_token(default_space):
    user = make_user("writer")
    user.is_staff = True
    user.save()
    grant(user, "default", "all")
    rule = Rule.objects.create(
        space=default_space, name="r", rule_type_id=".external", consumer="alerts", enabled=False
    )
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    for path, data in (
        (f"/admin/actions/rule/{rule.id}/enable/", {"enabled": "1"}),
        (f"/admin/actions/rule/{rule.id}/mute/", {"mute_all": "1"}),
        (f"/admin/actions/rule/{rule.id}/snooze/", {"duration": "1h"}),
        (f"/admin/actions/rule/{rule.id}/change/", {"name": "renamed"}),
        ("/admin/actions/rule/add/?rule_type=.external&space=default", {"name": "new"}),
        ("/admin/actions/rule/preview/", {"rule_type": ".external", "preview": "0"}),
        ("/admin/actions/maintenancewindow/add/", {"title": "w", "start": "2030-01-01T00:00:00Z"}),
    ):
        response = client.post(path, data)
        assert response.status_code == 403, path
        assert b"CSRF" in response.content, path
    rule.refresh_from_db()
    assert (rule.enabled, rule.mute_all, rule.snooze_schedule, rule.name) == (False, False, [], "r")
    assert Rule.objects.count() == 1 and not MaintenanceWindow.objects.exists()


def test_admin_pages_api_answers_and_the_oauth_callback_page_forbid_framing_and_sniffing(
    default_space, superuser
):
    client = Client()
    client.force_login(superuser)
    connector = create_connector("default")
    answers = {
        path: client.get(path)
        for path in (
            "/admin/",
            "/admin/connectors/connector/",
            f"/admin/connectors/connector/{connector.id}/test/",
            "/api/actions/connectors",
            "/api/actions/connector/_oauth_callback",
            "/api/actions/connector/_oauth_callback_script",
        )
    }
    answers["/admin/login/ (signed out)"] = Client().get("/admin/login/")

    for path, response in answers.items():
        assert response.status_code == 200, path
        assert response["X-Frame-Options"] == "DENY", path
        assert response["X-Content-Type-Options"] == "nosniff", path
    callback = answers["/api/actions/connector/_oauth_callback"]
    assert callback["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self'")
    assert "<script>" not in callback.content.decode()  # the page's only script is the 'self' one


def test_the_api_answers_its_middleware_builds_itself_also_forbid_framing_and_sniffing(
    default_space, superuser, monkeypatch
):
    from django.db import OperationalError

    from connectors.api import views

    signed_out = Client()
    signed_in = Client()
    signed_in.force_login(superuser)
    answers = {
        "unknown path (404)": signed_out.get("/api/actions/no-such-route"),
        "method the path lacks (405 as 404)": signed_in.put("/api/actions/connectors", HTTP_KBN_XSRF="1"),
        "no credentials (401)": signed_out.post("/api/actions/connector", {}),
        "no kbn-xsrf (400)": signed_in.post("/api/actions/connector", {}),
        "NUL in the query (400)": signed_out.get("/api/actions/connectors?x=%00"),
    }

    def database_down(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(views, "list_connectors", database_down)
    signed_in.raise_request_exception = False
    answers["database down (503)"] = signed_in.get("/api/actions/connectors")

    for name, response in answers.items():
        assert response.status_code in (400, 401, 404, 503), name
        assert response["Content-Type"].startswith("application/json"), name
        assert response.get("X-Frame-Options") == "DENY", name
        assert response.get("X-Content-Type-Options") == "nosniff", name


# ---- the space a form was opened in ---------------------------------------------------------------


def _post_form(client, page_url: str, form_id: str | None, data: dict):
    """Submit the page's form as a browser would: to its `action`, or to the page's own URL (the
    page's URL after any redirect). Without `form_id`, its first form other than the logout one."""
    response = client.get(page_url, follow=True)
    if response.redirect_chain:
        page_url = urljoin(page_url, response.redirect_chain[-1][0])
    html = response.content.decode()
    pattern = (
        rf'<form[^>]*id="{form_id}"[^>]*>' if form_id else r'<form(?![^>]*logout)[^>]*method="post"[^>]*>'
    )
    tag = re.search(pattern, html).group(0)
    action = re.search(r'action="([^"]*)"', tag)
    target = urljoin(page_url, unescape(action.group(1))) if action else page_url
    token = client.cookies["csrftoken"].value
    return target, lambda: client.post(target, {**data, "csrfmiddlewaretoken": token})


def test_a_create_form_saves_into_the_space_it_was_opened_in_after_another_tab_switched_space(
    default_space, other_space
):
    user = make_user("both")
    grant(user, "default", "all")
    grant(user, "marketing", "all")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/admin/connectors/connector/?space=marketing")
    client.get("/admin/actions/maintenancewindow/")  # the session's space is marketing

    _, create_connector_ = _post_form(
        client,
        "/admin/connectors/connector/add/?type=.server-log",
        "cx-connector-form",
        {"name": "for marketing"},
    )
    _, create_window = _post_form(
        client,
        "/admin/actions/maintenancewindow/add/",
        "maintenancewindow_form",
        {"title": "marketing freeze", "enabled": "on", "start": "2030-01-01T00:00:00.000Z", "duration": "1h"},
    )
    # another tab (or a page that navigates the browser there) switches to the default space
    client.get("/admin/connectors/connector/?space=default")
    created = create_connector_()
    client.get("/admin/connectors/connector/?space=default")
    saved = create_window()

    assert created.status_code == 302 and saved.status_code == 302
    assert Connector.objects.get(name="for marketing").space_id == "marketing"
    assert MaintenanceWindow.objects.get(title="marketing freeze").space_id == "marketing"


def test_the_edit_fix_test_and_delete_forms_of_a_connector_write_in_the_space_they_were_opened_in(
    default_space, other_space
):
    user = make_user("both")
    grant(user, "default", "all")
    grant(user, "marketing", "all")
    log = create_connector("marketing", name="marketing log")
    doomed = create_connector("marketing", name="marketing doomed")
    ticked = create_connector("marketing", name="marketing ticked")
    imported = Connector.objects.create(
        space=other_space,
        name="Imported hook",
        connector_type_id=".webhook",
        config={"url": "http://127.0.0.1:9/", "method": "post", "hasAuth": True},
        is_missing_secrets=True,
    )
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/admin/connectors/connector/?space=marketing")
    page = "/admin/connectors/connector/{}/{}/"

    submissions = [
        _post_form(
            client, page.format(log.id, "change"), "cx-connector-form", {"name": "renamed in marketing"}
        ),
        _post_form(
            client,
            page.format(imported.id, "fix"),
            "cx-connector-form",
            {"secrets__user": "bot", "secrets__password": "typed-in-marketing"},
        ),
        _post_form(
            client, page.format(log.id, "test"), "cx-test-form", {"params__message": "from marketing"}
        ),
        _post_form(
            client, page.format(doomed.id, "delete"), "cx-delete-form", {"ids": [doomed.id], "confirm": "yes"}
        ),
        _post_form(client, "/admin/connectors/connector/", "cx-bulk", {"ids": [ticked.id]}),
    ]
    answers = []
    for _target, submit in submissions:
        client.get("/admin/connectors/connector/?space=default")  # another tab switches meanwhile
        answers.append(submit())

    assert [a.status_code for a in answers] == [302, 302, 200, 302, 200]
    assert "marketing ticked" in answers[-1].content.decode()  # the bulk delete's confirmation
    log.refresh_from_db()
    imported.refresh_from_db()
    assert log.name == "renamed in marketing"
    assert imported.is_missing_secrets is False
    assert imported.get_secrets()["password"] == "typed-in-marketing"
    assert Event.objects.filter(connector_id=log.id, source="admin_test").exists()
    assert not Connector.objects.filter(pk=doomed.pk).exists()


def test_a_maintenance_window_edited_after_another_tab_switched_space_is_saved_not_lost(
    default_space, other_space
):
    user = make_user("both")
    grant(user, "default", "all")
    grant(user, "marketing", "all")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/admin/connectors/connector/?space=marketing")
    _, create_window = _post_form(
        client,
        "/admin/actions/maintenancewindow/add/",
        "maintenancewindow_form",
        {"title": "freeze", "enabled": "on", "start": "2030-01-01T00:00:00.000Z", "duration": "1h"},
    )
    assert create_window().status_code == 302
    window = MaintenanceWindow.objects.get(title="freeze")

    _, save = _post_form(
        client,
        f"/admin/actions/maintenancewindow/{window.pk}/change/",
        "maintenancewindow_form",
        {"title": "longer freeze", "enabled": "on", "start": "2030-01-01T00:00:00.000Z", "duration": "2h"},
    )
    client.get("/admin/connectors/connector/?space=default")
    saved = save()

    assert saved.status_code == 302
    window.refresh_from_db()
    assert (window.title, window.space_id) == ("longer freeze", "marketing")


def test_a_maintenance_windows_delete_and_list_actions_write_in_the_space_they_were_opened_in(
    default_space, other_space
):
    from actions import maintenance_windows as mw

    user = make_user("both")
    grant(user, "default", "all")
    grant(user, "marketing", "all")
    body = {
        "title": "w",
        "enabled": True,
        "schedule": {"custom": {"start": "2030-01-01T00:00:00.000Z", "duration": "1h"}},
    }
    doomed = mw.create_window(other_space, {**body, "title": "marketing doomed"})
    ticked = mw.create_window(other_space, {**body, "title": "marketing ticked"})
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/admin/connectors/connector/?space=marketing")

    submissions = [
        _post_form(client, f"/admin/actions/maintenancewindow/{doomed.pk}/delete/", None, {"post": "yes"}),
        _post_form(
            client,
            "/admin/actions/maintenancewindow/",
            "changelist-form",
            {
                "action": "archive_windows",
                "_selected_action": [ticked.pk],
                "index": "0",
                "select_across": "0",
            },
        ),
    ]
    answers = []
    for _target, submit in submissions:
        client.get("/admin/connectors/connector/?space=default")  # another tab switches meanwhile
        answers.append(submit())

    assert [a.status_code for a in answers] == [302, 302]
    assert not MaintenanceWindow.objects.filter(pk=doomed.pk).exists()
    ticked.refresh_from_db()
    assert mw.date_and_status(ticked)[0] == "archived"


def test_a_rule_edited_after_another_tab_switched_space_is_saved_in_its_own_space(default_space, other_space):
    user = make_user("both")
    user.is_staff = True
    user.save()
    grant(user, "default", "all")
    grant(user, "marketing", "all")
    rule = Rule.objects.create(
        space=other_space, name="r", rule_type_id=".external", consumer="alerts", enabled=False
    )
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/admin/connectors/connector/?space=marketing")
    _, save = _post_form(
        client,
        f"/admin/actions/rule/{rule.id}/change/",
        "rx-rule-form",
        {"name": "renamed", "schedule_value": "1", "schedule_unit": "m", "_save": "1"},
    )
    client.get("/admin/connectors/connector/?space=default")
    saved = save()

    assert saved.status_code == 302, saved.content.decode()[:2000]
    rule.refresh_from_db()
    assert (rule.name, rule.space_id) == ("renamed", "marketing")


def test_the_links_on_a_connectors_pages_lead_into_the_space_they_were_opened_in(default_space, other_space):
    user = make_user("both")
    grant(user, "default", "all")
    grant(user, "marketing", "all")
    log = create_connector("marketing", name="marketing log")
    imported = Connector.objects.create(
        space=other_space,
        name="Imported hook",
        connector_type_id=".webhook",
        config={"url": "http://127.0.0.1:9/", "method": "post", "hasAuth": True},
        is_missing_secrets=True,
    )
    Rule.objects.create(
        space=other_space,
        name="marketing rule",
        rule_type_id=".external",
        consumer="alerts",
        enabled=False,
        actions=[{"group": "default", "id": log.id, "actionTypeId": ".server-log", "params": {}}],
    )
    client = Client()
    client.force_login(user)
    client.get("/admin/connectors/connector/?space=marketing")
    pages = ["/admin/connectors/connector/"] + [
        f"/admin/connectors/connector/{c.id}/{tab}/"
        for c in (log, imported)
        for tab in ("change", "test", "logs", "rules", "delete")
    ]
    pages.append(f"/admin/connectors/connector/{imported.id}/fix/")
    links = set()
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        for href in re.findall(r'href="([^"]+)"', response.content.decode()):
            href = unescape(href)
            if re.match(rf"/admin/(connectors/connector/({log.id}|{imported.id})/|actions/rule/)", href):
                links.add(href)
    assert len(links) > 8

    landed = {}
    for link in sorted(links):
        client.get("/admin/connectors/connector/?space=default")  # another tab switches meanwhile
        response = client.get(link, follow=True)
        landed[link] = response.status_code
    assert landed == dict.fromkeys(links, 200)
