"""Access: every API route and every admin page, for a user holding `all`, `read` or nothing in the
`default` space, asked about `default` and about `marketing` (where they hold nothing), signed in with
Basic, an API key or the admin's session. Each case lists every route whose answer differs from
what the privilege allows, so one failure names all the holes."""

import io
import json
import uuid

import pytest
from django.test import Client

from connectors.models import Connector
from tests.api.conftest import PASSWORD, client_for, create_connector, grant, make_user

SPACES = ("default", "marketing")


def _prefix(space_id):
    return "" if space_id == "default" else f"/s/{space_id}"


def _line(connector_id):
    return (
        json.dumps(
            {
                "attributes": {
                    "actionTypeId": ".server-log",
                    "config": {},
                    "isMissingSecrets": False,
                    "name": "imp",
                    "secrets": {},
                },
                "id": connector_id,
                "references": [],
                "type": "action",
                "coreMigrationVersion": "8.8.0",
                "typeMigrationVersion": "10.1.0",
            }
        ).encode()
        + b"\n"
    )


def _upload(connector_id):
    handle = io.BytesIO(_line(connector_id))
    handle.name = "export.ndjson"
    return {"file": handle}


# (label, needs, method, path, body, allowed status). `needs`: read, all, signed-in, superuser, public.
# {p} is the space prefix, {id} a fresh connector in the asked space, {space} the asked space id.
API_ROUTES = [
    (
        "create",
        "all",
        "post",
        "{p}/api/actions/connector",
        {"name": "n", "connector_type_id": ".server-log"},
        200,
    ),
    ("get", "read", "get", "{p}/api/actions/connector/{id}", None, 200),
    ("update", "all", "put", "{p}/api/actions/connector/{id}", {"name": "renamed"}, 200),
    ("delete", "all", "delete", "{p}/api/actions/connector/{id}", None, 204),
    (
        "execute",
        "read",
        "post",
        "{p}/api/actions/connector/{id}/_execute",
        {"params": {"message": "hi"}},
        200,
    ),
    ("list", "read", "get", "{p}/api/actions/connectors", None, 200),
    ("types", "signed-in", "get", "{p}/api/actions/connector_types", None, 200),
    ("internal list", "read", "get", "{p}/internal/actions/connectors", None, 200),
    ("internal types", "signed-in", "get", "{p}/internal/actions/connector_types", None, 200),
    (
        "legacy create",
        "all",
        "post",
        "{p}/api/actions/action",
        {"name": "n", "actionTypeId": ".server-log"},
        200,
    ),
    ("legacy get", "read", "get", "{p}/api/actions/action/{id}", None, 200),
    ("legacy update", "all", "put", "{p}/api/actions/action/{id}", {"name": "renamed"}, 200),
    ("legacy delete", "all", "delete", "{p}/api/actions/action/{id}", None, 204),
    (
        "legacy execute",
        "read",
        "post",
        "{p}/api/actions/action/{id}/_execute",
        {"params": {"message": "hi"}},
        200,
    ),
    ("legacy list", "read", "get", "{p}/api/actions", None, 200),
    ("legacy types", "signed-in", "get", "{p}/api/actions/list_action_types", None, 200),
    ("export", "read", "post", "{p}/api/saved_objects/_export", {"type": ["action"]}, 200),
    (
        "export secrets",
        "all",
        "post",
        "{p}/api/saved_objects/_export",
        {"type": ["action"], "passphrase": "pw"},
        200,
    ),
    ("import", "all", "post", "{p}/api/saved_objects/_import", "upload", 200),
    ("space get", "read", "get", "{p}/api/spaces/space/{space}", None, 200),
    ("space create", "superuser", "post", "{p}/api/spaces/space", {"id": "new-space", "name": "New"}, 200),
    ("space update", "superuser", "put", "{p}/api/spaces/space/{space}", {"id": "{space}", "name": "X"}, 200),
    ("space delete", "superuser", "delete", "{p}/api/spaces/space/marketing", None, 204),
    ("schema", "public", "get", "{p}/api/schema/", None, 200),
    ("resolve import errors", "all", "post", "{p}/api/saved_objects/_resolve_import_errors", "resolve", 200),
    (
        "copy to space",
        "read",
        "post",
        "{p}/api/spaces/_copy_saved_objects",
        {"spaces": ["default"], "objects": [{"type": "action", "id": "{id}"}]},
        200,
    ),
    (
        "resolve copy to space",
        "read",
        "post",
        "{p}/api/spaces/_resolve_copy_saved_objects_errors",
        {"objects": [{"type": "action", "id": "{id}"}], "retries": {"default": []}},
        200,
    ),
    (
        "disable legacy url aliases",
        "all",
        "post",
        "{p}/api/spaces/_disable_legacy_url_aliases",
        {"aliases": [{"targetSpace": "{space}", "targetType": "action", "sourceId": "old"}]},
        204,
    ),
    ("rotate key", "superuser", "post", "{p}/api/encrypted_saved_objects/_rotate_key", None, 200),
    ("status", "public", "get", "{p}/api/status", None, 200),
    ("stats", "signed-in", "get", "{p}/api/stats", None, 200),
    ("oauth callback", "signed-in", "get", "{p}/api/actions/connector/_oauth_callback", None, 200),
    (
        "oauth callback (older path)",
        "signed-in",
        "get",
        "{p}/internal/actions/connector/_oauth_callback",
        None,
        200,
    ),
    ("oauth callback script", "public", "get", "{p}/api/actions/connector/_oauth_callback_script", None, 200),
    # Allowed, a .server-log connector has no authorization-code flow (and no public URL is set): 400.
    ("start oauth flow", "all", "post", "{p}/internal/actions/connector/{id}/_start_oauth_flow", {}, 400),
    # An unknown state is already gone: 204 for whoever may read the connector.
    (
        "cancel oauth flow",
        "read",
        "post",
        "{p}/internal/actions/connector/{id}/_oauth_cancel",
        {"state": "s"},
        204,
    ),
    # The tokens are the connector's, shared by every run: forgetting them needs `all`.
    ("oauth disconnect", "all", "post", "{p}/internal/actions/connector/{id}/_oauth_disconnect", None, 204),
    ("oauth auth status", "read", "post", "{p}/internal/actions/connectors/_me/auth_status", {}, 200),
]


def _allowed(needs, privilege, held_here, superuser=False):
    if needs == "public" or superuser:
        return True
    if needs == "signed-in":
        return True
    if needs == "superuser":
        return False
    if not held_here:
        return False
    return privilege == "all" or (privilege == "read" and needs == "read")


def _fill(text, space_id, connector_id):
    return text.replace("{p}", _prefix(space_id)).replace("{id}", connector_id).replace("{space}", space_id)


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["basic", "apikey", "session"])
@pytest.mark.parametrize("asked", SPACES)
@pytest.mark.parametrize("privilege", ["all", "read", "none"])
def test_every_api_route_answers_as_the_privilege_allows(spaces, privilege, asked, method):
    user = make_user(f"u-{privilege}")
    grant(user, "default", privilege)
    client = client_for(user, method)
    held_here = asked == "default" and privilege != "none"
    wrong = []
    for label, needs, verb, path, body, ok_status in API_ROUTES:
        target = create_connector(asked, name=f"target {label}")
        url = _fill(path, asked, target.id)
        if body == "upload":
            response = client.post(url, _upload(str(uuid.uuid4())), format="multipart")
        elif body == "resolve":
            new_id = str(uuid.uuid4())
            form = {**_upload(new_id), "retries": json.dumps([{"type": "action", "id": new_id}])}
            response = client.post(url, form, format="multipart")
        else:
            payload = json.loads(_fill(json.dumps(body), asked, target.id)) if body is not None else None
            response = getattr(client, verb)(url, payload, format="json")
        allowed = _allowed(needs, privilege, held_here)
        if allowed and response.status_code != ok_status:
            wrong.append((label, "should be allowed", response.status_code, response.content[:200]))
        if not allowed:
            if response.status_code != 403:
                wrong.append((label, "should be 403", response.status_code, response.content[:200]))
            elif verb != "get" and label not in ("execute", "legacy execute", "export", "export secrets"):
                # A refused write changed nothing.
                assert Connector.objects.filter(pk=target.pk, name=f"target {label}").exists(), label
    assert not wrong, wrong


@pytest.mark.django_db
def test_the_spaces_list_needs_a_privilege_somewhere(spaces):
    nobody = client_for(make_user("nobody"), "basic")
    assert nobody.get("/api/spaces/space").status_code == 403
    reader = make_user("reader")
    grant(reader, "marketing", "read")
    listed = client_for(reader, "basic").get("/api/spaces/space")
    assert [s["id"] for s in listed.json()] == ["marketing"]


# ---- the admin ------------------------------------------------------------------------------------

ADMIN_PAGES = [
    # (label, path under /admin/connectors/connector/, needs)
    ("list", "", "read"),
    ("type grid", "add/", "all"),
    ("add form", "add/?type=.server-log", "all"),
    ("view", "{id}/", "read"),
    ("change", "{id}/change/", "all"),
    ("fix", "{id}/fix/", "all"),
    ("test", "{id}/test/", "read"),
    ("logs", "{id}/logs/", "read"),
    ("rules", "{id}/rules/", "read"),
    ("delete", "{id}/delete/", "all"),
]


def _admin_status_ok(response) -> bool:
    if response.status_code == 200:
        return True
    return response.status_code == 302 and "login" not in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("asked", SPACES)
@pytest.mark.parametrize("privilege", ["all", "read", "none"])
def test_every_admin_page_answers_as_the_privilege_allows(spaces, privilege, asked):
    user = make_user(f"staff-{privilege}")
    grant(user, "default", privilege)
    client = Client()
    client.force_login(user)
    held_here = asked == "default" and privilege != "none"
    target = create_connector(asked, name="target")
    wrong = []
    for label, path, needs in ADMIN_PAGES:
        url = "/admin/connectors/connector/" + path.replace("{id}", target.id)
        url += ("&" if "?" in url else "?") + f"space={asked}"
        response = client.get(url, follow=True)
        allowed = _allowed(needs, privilege, held_here)
        on_login = any("/login/" in hop for hop, _status in response.redirect_chain)
        if "{id}" in path or label == "list":
            # The page is about the asked space: it shows the target connector only when allowed.
            shown = response.status_code == 200 and not on_login and target.id in response.content.decode()
        elif not held_here and privilege != "none":
            continue  # the admin shows the user's own space instead of one they cannot read
        else:
            shown = response.status_code == 200 and not on_login
        if allowed != shown:
            wrong.append((label, "allowed" if allowed else "denied", response.status_code))
    # The destructive POSTs change nothing without `all`.
    client.post(f"/admin/connectors/connector/{target.id}/delete/?space={asked}", {"confirm": "yes"})
    client.post(f"/admin/connectors/connector/delete/?space={asked}", {"ids": [target.id]})
    client.post(f"/admin/connectors/connector/{target.id}/change/?space={asked}", {"name": "renamed"})
    still_there = Connector.objects.filter(pk=target.pk, name="target").exists()
    if _allowed("all", privilege, held_here):
        assert not Connector.objects.filter(pk=target.pk).exists(), "an allowed delete deleted"
    else:
        assert still_there, "a refused admin write changed the connector"
    for label, path in (
        ("import", "/admin/saved-objects/import/"),
        ("export", "/admin/saved-objects/export/"),
    ):
        response = client.get(path)
        allowed = privilege == "all" or (privilege == "read" and label == "export")
        if allowed != _admin_status_ok(response):
            wrong.append((label, "allowed" if allowed else "denied", response.status_code))
    assert not wrong, wrong


@pytest.mark.django_db
def test_admin_forms_need_a_csrf_token(spaces):
    user = make_user("writer")
    grant(user, "default", "all")
    target = create_connector("default", name="target")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    for path, data in (
        (f"/admin/connectors/connector/{target.id}/delete/", {"confirm": "yes"}),
        ("/admin/connectors/connector/delete/", {"ids": [target.id]}),
        (f"/admin/connectors/connector/{target.id}/change/", {"name": "renamed"}),
        (f"/admin/connectors/connector/{target.id}/test/", {"params.message": "hi"}),
        ("/admin/connectors/connector/add/?type=.server-log", {"name": "new"}),
        ("/admin/saved-objects/export/", {"space": "default"}),
        ("/admin/saved-objects/import/", {"space": "default"}),
        ("/admin/connectors/apikey/add/", {"name": "k"}),
        ("/admin/logout/", {}),
    ):
        response = client.post(path, data)
        assert response.status_code == 403, path
        assert b"CSRF" in response.content, path
    assert Connector.objects.filter(pk=target.pk, name="target").exists()
    assert Connector.objects.count() == 1
    # With the token, the same form works: the refusal above was the CSRF check.
    page = client.get(f"/admin/connectors/connector/{target.id}/delete/")
    token = (
        page.cookies["csrftoken"].value if "csrftoken" in page.cookies else client.cookies["csrftoken"].value
    )
    done = client.post(
        f"/admin/connectors/connector/{target.id}/delete/", {"confirm": "yes", "csrfmiddlewaretoken": token}
    )
    assert done.status_code == 302
    assert not Connector.objects.filter(pk=target.pk).exists()


@pytest.mark.django_db
def test_admin_login_needs_a_csrf_token(spaces):
    make_user("elastic", superuser=True)
    client = Client(enforce_csrf_checks=True)
    response = client.post("/admin/login/", {"username": "elastic", "password": PASSWORD})
    assert response.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["basic", "apikey", "session"])
def test_every_api_write_needs_kbn_xsrf_whatever_the_credential(spaces, method):
    user = make_user("writer")
    grant(user, "default", "all")
    client = client_for(user, method, xsrf=False)
    target = create_connector("default", name="target")
    writes = [
        ("post", "/api/actions/connector", {"name": "n", "connector_type_id": ".server-log"}),
        ("put", f"/api/actions/connector/{target.id}", {"name": "renamed"}),
        ("delete", f"/api/actions/connector/{target.id}", None),
        ("post", f"/api/actions/connector/{target.id}/_execute", {"params": {"message": "m"}}),
        ("post", "/api/actions/action", {"name": "n", "actionTypeId": ".server-log"}),
        ("post", "/api/saved_objects/_export", {"type": ["action"]}),
        ("post", "/api/spaces/space", {"id": "x", "name": "x"}),
        ("delete", "/api/spaces/space/marketing", None),
    ]
    for verb, path, body in writes:
        response = getattr(client, verb)(path, body, format="json")
        assert response.status_code == 400, (path, response.status_code)
        assert response.json()["message"] == "Request must contain a kbn-xsrf header."
    assert Connector.objects.filter(pk=target.pk, name="target").exists()
    assert Connector.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["revoke", "expire", "deactivate user"])
def test_an_api_key_stops_working_at_once_when_revoked_expired_or_its_user_deactivated(spaces, change):
    from datetime import timedelta

    from django.utils import timezone

    from connectors.models import ApiKey

    user = make_user("keyholder")
    grant(user, "default", "all")
    client = client_for(user, "apikey")
    assert client.get("/api/actions/connectors").status_code == 200
    key = ApiKey.objects.get(user=user)
    if change == "revoke":
        ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    elif change == "expire":
        ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        type(user).objects.filter(pk=user.pk).update(is_active=False)
    refused = client.get("/api/actions/connectors")
    assert refused.status_code == 401
    assert refused.json() == {"statusCode": 401, "error": "Unauthorized", "message": "Unauthorized"}
    assert (
        client.post(
            "/api/actions/connector", {"name": "n", "connector_type_id": ".server-log"}, format="json"
        ).status_code
        == 401
    )


def _api_routes() -> set[str]:
    """Every `api/...` route the URL conf serves at the root, as `api/...` with `<x>` placeholders."""
    from django.urls import URLPattern, URLResolver, get_resolver

    found: set[str] = set()

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith(("api/", "internal/")):
                found.add(route)

    walk(get_resolver().url_patterns)
    return found


# Routes whose access rules are not a connectors privilege: the schema pages (public) and the list
# of spaces (checked on its own above).
NOT_IN_THE_MATRIX = {
    "api/schema/docs/",
    "api/schema/redoc/",
    "api/schema/swagger-ui/",
    "api/docs/",
    "api/spaces/space",
    "api/task_manager/_health",  # any signed-in user, as in Kibana (no feature privilege)
}


def test_every_api_route_is_in_the_access_matrix():
    import re

    rows = list(API_ROUTES)
    try:
        from tests.security.test_access_matrix_rules_eventlog import ROUTES
    except pytest.skip.Exception:
        ROUTES = []
    rows += ROUTES
    covered = {
        re.sub(
            r"\{[a-z]+\}",
            "<x>",
            path.replace("{p}/", "")
            .replace("{dates}", "")
            .replace("{novalidate}", "")
            .replace("/alert/a1/", "/alert/{x}/"),
        )
        for _l, _n, _v, path, _b, _s in rows
    }
    missing = sorted(
        route
        for route in _api_routes()
        if re.sub(r"<[^>]+>", "<x>", route) not in covered and route not in NOT_IN_THE_MATRIX
    )
    assert not missing, (
        f"API routes with no row in API_ROUTES (tests/security/test_access_matrix.py): {missing}. "
        "Add one with the privilege it needs."
    )
