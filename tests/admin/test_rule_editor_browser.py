"""The rule editor in Debian's Chromium (Playwright): an Index threshold rule with one webhook action
(and one with a Jira action asked for field by field),
made through the UI on a laptop and on a phone, with no horizontal overflow and no console errors.
With CONNECTORS_UPDATE_SCREENSHOTS=1 it refreshes docs/screenshots/rule-editor*.png and rule-page.png."""

import pytest

from actions.models import Rule
from connectors.services import create_connector
from tests.admin import test_browser

browser = test_browser.browser  # the fixtures: one Chromium per module, tabs that record console errors
session = test_browser.session

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.usefixtures("chromium_installed"),
]


def overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("width,height", [(1366, 900), (390, 844)])
def test_a_person_creates_an_index_threshold_rule_with_one_action(
    session, default_space, httpserver, width, height
):
    hook = create_connector(
        default_space,
        name="Ops webhook",
        type_id=".webhook",
        config={"url": httpserver.url_for("/hook"), "hasAuth": False},
        secrets={},
    )
    tab = session(width=width, height=height)
    page = tab.page
    tab.login("elastic")

    page.goto("/admin/actions/rule/")
    page.click(".object-tools a.addlink")
    page.wait_for_selector("#rx-type-grid")
    page.click("[data-rule-type='.index-threshold']")
    page.wait_for_selector("#rx-rule-form")
    assert overflow(page) <= 0

    page.fill("#id_name", "CPU high")
    page.fill("#id_tags", "cpu")
    page.keyboard.press("Enter")
    page.fill("#id_tags", "prod")
    page.keyboard.press("Enter")
    assert page.locator(".rx-tag").count() == 2
    assert page.input_value("#id_tags_value") == "cpu, prod"  # what is posted
    page.fill("#id_schedule_value", "5")
    page.select_option("#id_schedule_unit", "m")
    page.fill("#id_rule-params__index", "metrics")
    page.fill("#id_rule-params__timeField", "@timestamp")
    assert not page.is_visible("[data-param=aggField]")  # only for avg, min, max, sum
    page.select_option("#id_rule-params__aggType", "avg")
    assert page.is_visible("[data-param=aggField]")
    page.fill("#id_rule-params__aggField", "cpu.pct")
    page.select_option("#id_rule-params__thresholdComparator", ">")
    page.fill("#id_rule-params__threshold", "0.9")
    page.fill("#id_rule-params__timeWindowSize", "5")
    page.select_option("#id_rule-params__timeWindowUnit", "m")

    assert page.is_visible(
        f"button[data-connector-id='{hook.id}']"
    )  # the picker is open while there is no action
    with page.expect_navigation():
        page.click(f"button[data-connector-id='{hook.id}']")
    page.wait_for_selector("#rx-action-0")
    assert page.input_value("#id_name") == "CPU high"  # kept across the reload
    assert page.inner_text("#rx-action-0 h3") == "Ops webhook"
    assert not page.is_visible("#rx-action-0 [data-throttle]")
    page.select_option("#id_action-0-summary", "true")  # a summary has no status to change
    assert page.input_value("#id_action-0-notify_when") == "onActiveAlert"
    page.click("#rx-action-0 .rx-variables > summary")
    assert page.is_visible("#rx-action-0 [data-variable='alerts.new.count']")
    assert not page.is_visible("#rx-action-0 [data-variable='alert.id']")  # per-alert variables only
    page.click("#rx-action-0 .rx-variables > summary")
    page.select_option("#id_action-0-summary", "false")
    page.select_option("#id_action-0-notify_when", "onThrottleInterval")
    assert page.is_visible("#rx-action-0 [data-throttle]")
    page.fill("#id_action-0-throttle_value", "1")
    page.select_option("#id_action-0-throttle_unit", "h")

    body = "#id_action-0-params__body"
    assert page.input_value(body) == "{{context.message}}"  # Kibana pre-fills the alert's message
    page.fill(body, "Value: ")
    page.press(body, "End")
    page.click("#rx-action-0 .rx-variables > summary")
    page.click("#rx-action-0 [data-variable='context.value']")
    assert page.input_value(body) == "Value: {{context.value}}"
    # the live preview: rendered by the server with sample values as the person types
    # (`expect`, not `wait_for_function`: the admin's CSP refuses the eval that one polls with)
    from playwright.sync_api import expect

    expect(page.locator("#rx-action-0 [data-preview]")).to_have_text("Value: 42")
    assert overflow(page) <= 0
    tab.shot("rule-editor" if width > 1000 else "rule-editor-phone")

    with page.expect_navigation():
        page.click("#rx-save")
    page.wait_for_selector(".messagelist")
    assert "Created rule “CPU high”." in page.inner_text(".messagelist")
    rule = Rule.objects.get()
    assert rule.tags == ["cpu", "prod"] and rule.schedule_interval == "5m"
    assert rule.params["aggType"] == "avg" and rule.params["aggField"] == "cpu.pct"
    assert rule.params["threshold"] == [0.9]
    [action] = rule.actions
    assert action["id"] == hook.id and action["params"] == {"body": "Value: {{context.value}}"}
    assert action["frequency"] == {"summary": False, "notify_when": "onThrottleInterval", "throttle": "1h"}
    assert overflow(page) <= 0

    page.click("a.cx-tab:has-text('Execution log')")
    page.wait_for_selector("#rx-log-total")
    page.click("a.cx-tab:has-text('Alerts')")
    page.wait_for_selector("#rx-no-alerts")
    assert overflow(page) <= 0
    if width > 1000:
        tab.shot("rule-page")
    assert tab.problems == []


def test_params_follow_the_choices_of_other_params_as_their_schema_says(session):
    """`shown_when` on the Index threshold params schema: "Of field" only for an aggregation of a
    field, the term inputs only for "top"; a hidden input keeps what was typed in it."""
    tab = session()
    page = tab.page
    tab.login("elastic")
    page.goto("/admin/actions/rule/add/?rule_type=.index-threshold&space=default")
    page.wait_for_selector("#rx-rule-form")

    def shown(key):
        return page.is_visible(f"[data-param={key}]")

    assert page.input_value("#id_rule-params__aggType") == "count"
    assert not shown("aggField") and not shown("termField") and not shown("termSize")
    for agg_type in ("avg", "min", "max", "sum"):
        page.select_option("#id_rule-params__aggType", agg_type)
        assert shown("aggField"), agg_type
    page.fill("#id_rule-params__aggField", "cpu.pct")
    page.select_option("#id_rule-params__aggType", "count")
    assert not shown("aggField")
    assert page.input_value("#id_rule-params__aggField") == "cpu.pct"

    page.select_option("#id_rule-params__groupBy", "top")
    assert shown("termField") and shown("termSize") and not shown("aggField")
    page.select_option("#id_rule-params__groupBy", "all")
    assert not shown("termField") and not shown("termSize")
    assert shown("index") and shown("timeField") and shown("threshold")
    assert tab.problems == []


def test_a_person_gives_a_jira_action_its_issue_field_by_field(session, default_space):
    jira = create_connector(
        default_space,
        name="Ops Jira",
        type_id=".jira",
        config={"apiUrl": "http://127.0.0.1:9", "projectKey": "OPS"},
        secrets={"email": "a@example.com", "apiToken": "marker-secret-77d1"},
    )
    tab = session(width=1366, height=900)
    page = tab.page
    tab.login("elastic")
    page.goto(f"/admin/actions/rule/add/?rule_type=.index-threshold&space=default&connector={jira.id}")
    page.wait_for_selector("#rx-action-0")
    page.fill("#id_name", "Disk full")
    page.fill("#id_rule-params__index", "metrics")
    page.fill("#id_rule-params__timeField", "@timestamp")
    page.fill("#id_rule-params__threshold", "2")
    page.fill("#id_rule-params__timeWindowSize", "5")
    assert page.locator("#rx-action-0 textarea[name='action-0-params__subActionParams']").count() == 0
    page.fill("#id_action-0-params__subActionParams__incident__summary", "Disk full on {{alert.id}}")
    page.fill("#id_action-0-params__subActionParams__incident__labels", "disk\nprod")
    page.fill("#id_action-0-params__subActionParams__comments__0__comment", "First look")
    page.click("#id_action-0-params__subActionParams__comments [data-add-row]")
    page.fill("#id_action-0-params__subActionParams__comments__1__comment", "Runbook: disk")
    from playwright.sync_api import expect

    expect(page.locator("#rx-action-0 [data-preview]")).to_contain_text("Disk full on host-1")
    with page.expect_navigation():
        page.click("#rx-save")
    errors = page.locator(".cx-errors").evaluate_all("l => l.map(e => e.id + ': ' + e.innerText)")
    assert Rule.objects.exists(), errors
    [action] = Rule.objects.get().actions
    assert action["params"] == {
        "subAction": "pushToService",
        "subActionParams": {
            "incident": {"summary": "Disk full on {{alert.id}}", "labels": ["disk", "prod"]},
            "comments": [
                {"comment": "First look", "commentId": "1"},
                {"comment": "Runbook: disk", "commentId": "2"},
            ],
        },
    }
    assert overflow(page) <= 0
    assert tab.problems == []


def test_a_person_adds_an_email_action_and_fills_to_subject_and_message(session, default_space):
    """Kibana's email action form: to, cc, bcc, subject and message; no JSON (the footer link is
    the framework's)."""
    mailer = create_connector(
        default_space,
        name="Ops mail",
        type_id=".email",
        config={"service": "other", "host": "127.0.0.1", "port": 2525, "from": "alerts@example.com"},
        secrets={"user": "u", "password": "marker-secret-e2"},
    )
    tab = session(width=1366, height=900)
    page = tab.page
    tab.login("elastic")
    page.goto("/admin/actions/rule/add/?rule_type=.index-threshold&space=default")
    page.wait_for_selector("#rx-rule-form")
    page.fill("#id_name", "CPU high")
    page.fill("#id_rule-params__index", "metrics")
    page.fill("#id_rule-params__timeField", "@timestamp")
    page.fill("#id_rule-params__threshold", "2")
    page.fill("#id_rule-params__timeWindowSize", "5")
    with page.expect_navigation():
        page.click(f"button[data-connector-id='{mailer.id}']")
    page.wait_for_selector("#rx-action-0")
    assert page.input_value("#id_name") == "CPU high"

    shown = page.locator("#rx-action-0 [name^='action-0-params__']").evaluate_all(
        "l => l.filter(e => e.type !== 'hidden').map(e => e.name)"
    )
    assert sorted(shown) == sorted(
        f"action-0-params__{key}" for key in ("to", "cc", "bcc", "subject", "message")
    )
    assert page.locator("#rx-action-0 textarea.code").count() == 0  # no JSON textarea
    assert page.input_value("#id_action-0-params__message") == "{{context.message}}"
    page.fill("#id_action-0-params__to", "ops@example.com\noncall@example.com")
    page.fill("#id_action-0-params__subject", "CPU high on {{context.group}}")
    page.fill("#id_action-0-params__message", "Value: {{context.value}}")
    with page.expect_navigation():
        page.click("#rx-save")
    errors = page.locator(".cx-errors").evaluate_all("l => l.map(e => e.id + ': ' + e.innerText)")
    assert Rule.objects.exists(), errors
    [action] = Rule.objects.get().actions
    assert action["id"] == mailer.id
    assert action["params"] == {
        "to": ["ops@example.com", "oncall@example.com"],
        "subject": "CPU high on {{context.group}}",
        "message": "Value: {{context.value}}",
    }
    assert overflow(page) <= 0
    assert tab.problems == []
