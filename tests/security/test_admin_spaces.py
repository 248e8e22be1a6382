"""Issue 16, finding 3: the rules, runs and event-log admin follow the space privileges.

A staff user holds `all` in `default`, `read` in `marketing` and nothing in `sales`, plus the Django
model permissions each test names. Lists, filters and object pages show only `default` and
`marketing`; enabling, disabling, running soon and re-queueing need `all` (and the Django change
permission), so they touch only `default`.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from actions.models import ActionRun, Rule
from connectors.models import Connector, Space
from tests.api.conftest import grant, make_user
from tests.eventlog.factories import run_events

RULES = "/admin/actions/rule/"
RUNS = "/admin/actions/actionrun/"
EVENTS = "/admin/eventlog/event/"


@pytest.fixture
def sales(db):
    return Space.objects.create(id="sales", name="Sales")


@pytest.fixture
def rules(default_space, other_space, sales):
    def rule(space, name):
        return Rule.objects.create(
            space=space, name=name, rule_type_id=".external", consumer="alerts", enabled=False
        )

    return {space.id: rule(space, f"rule-of-{space.id}") for space in (default_space, other_space, sales)}


@pytest.fixture
def runs(default_space, other_space, sales):
    def run(space_id):
        return ActionRun.objects.create(
            space_id=space_id,
            connector_id=f"hook-of-{space_id}",
            connector_type_id=".webhook",
            status=ActionRun.FAILED,
            attempts=3,
            max_attempts=3,
            due_at=timezone.now() - timedelta(hours=1),
        )

    return {space_id: run(space_id) for space_id in ("default", "marketing", "sales")}


def staff_client(*codenames: str) -> Client:
    user = make_user("staff-limited")
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    grant(user, "default", "all")
    grant(user, "marketing", "read")
    client = Client()
    client.force_login(user)
    return client


def act(client, url, action, objects):
    return client.post(url, {"action": action, "_selected_action": [o.pk for o in objects]})


# ---- rules -------------------------------------------------------------------------------------------


def test_the_rule_list_filters_and_pages_show_only_readable_spaces(rules):
    client = staff_client("view_rule")
    listing = client.get(RULES).content.decode()
    assert "rule-of-default" in listing and "rule-of-marketing" in listing
    assert "rule-of-sales" not in listing
    assert "Sales" not in listing  # the space filter offers readable spaces only
    assert "rule-of-sales" not in client.get(RULES, {"q": "rule-of"}).content.decode()
    hidden = client.get(f"{RULES}{rules['sales'].pk}/change/")
    missing = client.get(f"{RULES}no-such-rule/change/")
    assert hidden.status_code == missing.status_code == 404  # the rule page: as for a missing id
    assert client.get(f"{RULES}{rules['marketing'].pk}/change/").status_code == 200


def test_a_user_with_only_view_rule_cannot_enable_rules_anywhere(rules):
    client = staff_client("view_rule")
    assert "enable_rules" not in client.get(RULES).content.decode()
    act(client, RULES, "enable_rules", rules.values())
    assert not Rule.objects.filter(enabled=True).exists()


def test_rule_actions_change_only_rules_of_spaces_where_the_user_has_all(rules):
    client = staff_client("view_rule", "change_rule")
    act(client, RULES, "enable_rules", rules.values())
    assert set(Rule.objects.filter(enabled=True).values_list("space_id", flat=True)) == {"default"}
    Rule.objects.update(enabled=True)
    act(client, RULES, "disable_rules", rules.values())
    assert set(Rule.objects.filter(enabled=False).values_list("space_id", flat=True)) == {"default"}


def test_bulk_delete_refuses_a_selection_that_reaches_into_a_read_only_space(rules):
    client = staff_client("view_rule", "delete_rule")
    selection = [rules["default"].pk, rules["marketing"].pk]
    client.post(RULES, {"action": "delete_selected", "_selected_action": selection, "post": "yes"})
    assert Rule.objects.count() == 3
    client.post(
        RULES, {"action": "delete_selected", "_selected_action": [rules["default"].pk], "post": "yes"}
    )
    assert set(Rule.objects.values_list("space_id", flat=True)) == {"marketing", "sales"}


def test_a_rule_of_a_read_only_space_opens_read_only_and_refuses_a_post(rules):
    client = staff_client("view_rule", "change_rule")
    url = f"{RULES}{rules['marketing'].pk}/change/"
    assert 'name="_save"' not in client.get(url).content.decode()
    assert client.post(url, {"name": "renamed"}).status_code == 403
    assert Rule.objects.get(pk=rules["marketing"].pk).name == "rule-of-marketing"


def test_a_new_rule_can_only_go_to_a_space_where_the_user_has_all(rules):
    client = staff_client("view_rule", "add_rule", "change_rule")
    page = client.get(f"{RULES}add/", {"rule_type": ".external"}).content.decode()
    field = page.split('id="rx-space"', 1)[1].split("</select>", 1)[0]
    options = {option.split('"', 1)[0]: option for option in field.split('<option value="')[1:]}
    assert set(options) == {"default", "marketing"}  # readable spaces only
    assert "disabled" not in options["default"] and "disabled" in options["marketing"]
    # Asking for the read-only space directly is refused too.
    assert client.get(f"{RULES}add/", {"rule_type": ".external", "space": "marketing"}).status_code == 403


# ---- runs --------------------------------------------------------------------------------------------


def test_the_run_list_shows_only_readable_spaces(runs):
    client = staff_client("view_actionrun")
    listing = client.get(RUNS).content.decode()
    assert "hook-of-default" in listing and "hook-of-marketing" in listing
    assert "hook-of-sales" not in listing
    assert client.get(f"{RUNS}{runs['sales'].pk}/change/").status_code == 302


def test_a_user_with_only_view_permission_cannot_requeue_runs(runs):
    client = staff_client("view_actionrun")
    assert "retry_now" not in client.get(RUNS).content.decode()
    act(client, RUNS, "retry_now", runs.values())
    assert set(ActionRun.objects.values_list("max_attempts", flat=True)) == {3}


def test_requeueing_touches_only_runs_of_spaces_where_the_user_has_all(runs):
    client = staff_client("view_actionrun", "change_actionrun")
    act(client, RUNS, "retry_now", runs.values())
    max_attempts = dict(ActionRun.objects.values_list("space_id", "max_attempts"))
    assert max_attempts == {"default": 4, "marketing": 3, "sales": 3}


# ---- event log ---------------------------------------------------------------------------------------


def test_the_event_log_filters_offer_only_readable_spaces_and_their_connectors(
    default_space, other_space, sales
):
    for space, name in ((default_space, "Default pager"), (sales, "Sales secret pager")):
        connector = Connector(space=space, name=name, connector_type_id=".server-log", config={})
        connector.set_secrets({})
        connector.save()
        run_events(connector_id=connector.id, name=name, space=space.id)
    client = staff_client("view_event")
    page = client.get(EVENTS).content.decode()
    assert "Default pager" in page
    assert "Sales secret pager" not in page and "Sales" not in page
    asked_for_sales = client.get(EVENTS, {"space": "sales"}).content.decode()
    assert "Sales secret pager" not in asked_for_sales
