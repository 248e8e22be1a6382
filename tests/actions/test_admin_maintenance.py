"""The maintenance-window admin (current space only) and the rule page's execution log."""

from datetime import timedelta

from django.utils import timezone

from actions.models import MaintenanceWindow
from actions.rule_runner import run_rule
from actions.rules import create_rule
from connectors.models import SpacePrivilege
from tests.actions.helpers import add_documents, make_webhook, threshold_rule_body


def window_form(**overrides):
    data = {
        "title": "Patch Tuesday",
        "enabled": "on",
        "start": "2030-03-05T20:00:00.000Z",
        "duration": "2h",
        "schedule_timezone": "Europe/Amsterdam",
        "every": "",
        "on_week_day": "",
        "occurrences": "",
        "end": "",
        "kql": "",
    }
    data.update(overrides)
    return data


def test_an_admin_creates_lists_and_archives_a_window(client, superuser, default_space):
    client.force_login(superuser)
    assert client.get("/admin/actions/maintenancewindow/add/").status_code == 200
    response = client.post("/admin/actions/maintenancewindow/add/", window_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    window = MaintenanceWindow.objects.get()
    assert window.space_id == "default" and window.created_by == "elastic"
    assert window.schedule["custom"]["timezone"] == "Europe/Amsterdam"
    listing = client.get("/admin/actions/maintenancewindow/", follow=True).content.decode()
    assert "Patch Tuesday" in listing and "upcoming" in listing
    client.post(
        "/admin/actions/maintenancewindow/",
        {"action": "archive_windows", "_selected_action": [window.pk]},
    )
    window.refresh_from_db()
    assert (
        window.events == []
        and "archived" in client.get("/admin/actions/maintenancewindow/", follow=True).content.decode()
    )


def test_the_admin_form_shows_kibanas_schedule_messages(client, superuser, default_space):
    client.force_login(superuser)
    response = client.post("/admin/actions/maintenancewindow/add/", window_form(duration="2x"))
    assert response.status_code == 200
    assert "Invalid schedule duration format: 2x" in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


def test_the_admin_lists_only_the_current_spaces_windows(
    client, django_user_model, default_space, other_space
):
    from actions import maintenance_windows as mw

    mw.create_window(
        default_space,
        {"title": "here", "schedule": {"custom": {"start": "2030-03-05T20:00:00.000Z", "duration": "1h"}}},
    )
    elsewhere = mw.create_window(
        other_space,
        {
            "title": "elsewhere",
            "schedule": {"custom": {"start": "2030-03-05T20:00:00.000Z", "duration": "1h"}},
        },
    )
    user = django_user_model.objects.create_user("ops", password="ops-password-1", is_staff=True)
    SpacePrivilege.objects.create(user=user, space=default_space, privilege="read")
    client.force_login(user)
    listing = client.get("/admin/actions/maintenancewindow/", follow=True).content.decode()
    assert "here" in listing and "elsewhere" not in listing
    assert client.get(f"/admin/actions/maintenancewindow/{elsewhere.pk}/change/").status_code in (
        302,
        403,
        404,
    )
    assert client.get("/admin/actions/maintenancewindow/add/").status_code == 403  # read only


def test_the_rule_page_shows_the_rules_execution_log(client, superuser, default_space):
    client.force_login(superuser)
    hook = make_webhook(default_space, "http://127.0.0.1:9/hook")
    rule = create_rule(default_space, threshold_rule_body(hook.id), user="elastic")
    add_documents("metrics", [{}] * 3, at=timezone.now() - timedelta(seconds=30))
    run_rule(rule.id)
    page = client.get(
        f"/admin/actions/rule/{rule.id}/change/?tab=log"
    ).content.decode()  # the rule editor's tab
    assert "Recent runs" in page
    assert f"rule executed: .index-threshold:{rule.id}: &#x27;cpu high&#x27;" in page
    assert "1 run(s) in the last 30 days." in page
