"""Hostile Mustache in rule action params: what a user writes is rendered in the worker for every
alert, and in the rule editor's preview on a web thread, so rendering must stay bounded. Partials
read no file (chevron would read `<name>.mustache` from the disk; Kibana renders them as nothing),
nested sections over a list stop at a number of passes, output stops at a length, and chevron's
token cache does not grow with every lambda text it sees. Each bound ends the render in Kibana's
`error rendering mustache template "<tpl>": <msg>`, which is what the action then sends."""

import chevron.renderer
import pytest

from actions import mustache, worker
from actions.models import ActionRun, Rule
from actions.rule_runner import run_rule
from actions.rule_types.external import report_alerts
from actions.rules import create_rule
from tests.actions.helpers import make_webhook
from tests.actions.test_admin_rule_editor import threshold_form

TEN_TAGS = [f"t{i}" for i in range(10)]


@pytest.fixture
def hook(default_space, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    return make_webhook(default_space, httpserver.url_for("/hook"))


def nested_over_tags(depth: int) -> str:
    return "{{#rule.tags}}" * depth + "x" + "{{/rule.tags}}" * depth


def test_a_partial_renders_nothing_and_reads_no_file(tmp_path):
    (tmp_path / "secret.mustache").write_text("the contents of a file on the server")

    rendered = mustache.render_string(f"a{{{{> {tmp_path}/secret}}}}b", {})

    assert rendered == "ab"


@pytest.mark.timeout(20)
def test_sections_nested_over_a_list_stop_at_the_pass_cap_with_kibanas_error_text():
    # 10 tags, 8 deep: 10**8 passes and 100 MB of "x" without the cap (about an hour of CPU).
    template = nested_over_tags(8)

    rendered = mustache.render_string(template, {"rule": {"tags": TEN_TAGS}})

    assert rendered == (
        f'error rendering mustache template "{template}": '
        f"sections and lambdas rendered more than {mustache.MAX_SECTION_RENDERS} times"
    )


@pytest.mark.parametrize(
    "template",
    [
        "{{{context.big}}}" * 200,  # a long string printed over and over
        "{{context.list}}" * 400,  # an array printed over and over
        "{{#context.list}}{{{context.big}}}{{/context.list}}",  # a section repeating a long value
        "{{#context.list}}" + "literal text " * 10_000 + "{{/context.list}}",  # repeating a literal
    ],
    ids=["string", "array", "section", "literal"],
)
def test_output_past_the_length_cap_is_kibanas_error_text_instead_of_gigabytes(template):
    variables = {"context": {"big": "x" * 100_000, "list": list(range(30_000))}}

    rendered = mustache.render_string(template, variables)

    assert rendered == (
        f'error rendering mustache template "{template}": '
        f"the rendered text exceeds {mustache.MAX_RENDERED_CHARACTERS} characters"
    )


def test_the_cap_is_shared_by_all_the_strings_of_one_params_object():
    params = {"a": "{{{big}}}" * 40, "b": "{{{big}}}" * 40, "c": "{{{big}}}" * 40}

    rendered = mustache.render_object(params, {"big": "x" * 100_000})

    assert [len(rendered["a"]), len(rendered["b"])] == [4_000_000, 4_000_000]
    assert rendered["c"].startswith('error rendering mustache template "{{{big}}}')


def test_a_large_ordinary_message_is_not_affected():
    alerts = [{"id": f"host-{i}", "reason": "cpu " * 50} for i in range(1_000)]
    template = "{{#alerts}}{{id}}: {{reason}}\n{{/alerts}}"

    rendered = mustache.render_string(template, {"alerts": alerts})

    assert rendered.count("\n") == 1_000 and not rendered.startswith("error")


def test_the_token_cache_of_lambda_texts_stays_bounded():
    for i in range(2_000):
        mustache.render_string(f"{{{{#FormatNumber}}}}{i}.5{{{{/FormatNumber}}}}", {})

    assert len(chevron.renderer.g_token_cache) <= 256
    assert mustache.render_string("{{#FormatNumber}}1234.5{{/FormatNumber}}", {}) == "1,234.5"


@pytest.mark.timeout(20)
def test_the_rule_editor_preview_of_a_template_bomb_answers_with_the_error_text(client, superuser, db, hook):
    client.force_login(superuser)
    data = threshold_form(hook.id, _save=None, preview="0", tags=", ".join(TEN_TAGS))
    data["action-0-params__body"] = nested_over_tags(8)

    answer = client.post("/admin/actions/rule/preview/", data)

    assert answer.status_code == 200
    assert answer.json()["preview"].endswith(f"rendered more than {mustache.MAX_SECTION_RENDERS} times")


@pytest.mark.timeout(20)
def test_a_rule_run_with_a_template_bomb_sends_the_error_text_and_finishes(default_space, hook, httpserver):
    body = {
        "name": "bomb",
        "rule_type_id": ".external",
        "consumer": "alerts",
        "schedule": {"interval": "1m"},
        "tags": TEN_TAGS,
        "actions": [
            {
                "group": "critical",
                "id": hook.id,
                "params": {"body": nested_over_tags(8)},
                "frequency": {"summary": False, "notify_when": "onActiveAlert", "throttle": None},
            }
        ],
    }
    rule = create_rule(default_space, body, user="elastic")
    report_alerts(rule, [{"action_group": "critical", "id": "host-1"}])
    Rule.objects.filter(pk=rule.pk).update(state=rule.state)

    run_rule(rule.id)
    worker.run_pending()

    (request, _), *_ = httpserver.log
    assert request.get_data(as_text=True).startswith("error rendering mustache template")


def test_renders_inside_a_shared_budget_share_the_run_cap():
    params = {"body": "{{{big}}}" * 90}  # 9,000,000 characters: under one object's cap
    variables = {"big": "x" * 100_000}

    with mustache.shared_budget():
        rendered = [mustache.render_object(params, variables)["body"] for _ in range(6)]

    assert [len(text) for text in rendered[:5]] == [9_000_000] * 5
    assert rendered[5].endswith(f"the rendered text exceeds {mustache.MAX_RUN_CHARACTERS} characters")
    assert len(mustache.render_object(params, variables)["body"]) == 9_000_000  # outside: its own cap


@pytest.mark.timeout(60)
def test_a_rule_run_with_many_actions_near_the_cap_stops_at_the_run_cap(default_space, hook, httpserver):
    big = "{{{rule.tags}}}" * 90  # ten tags of 10,000 characters, comma-joined: 9,000,810 characters
    action = {
        "group": "critical",
        "id": hook.id,
        "params": {"body": big},
        "frequency": {"summary": False, "notify_when": "onActiveAlert", "throttle": None},
    }
    body = {
        "name": "many",
        "rule_type_id": ".external",
        "consumer": "alerts",
        "schedule": {"interval": "1m"},
        "tags": ["x" * 10_000] * 10,
        "actions": [action] * 8,
    }
    rule = create_rule(default_space, body, user="elastic")
    report_alerts(rule, [{"action_group": "critical", "id": "host-1"}])
    Rule.objects.filter(pk=rule.pk).update(state=rule.state)

    run_rule(rule.id)

    bodies = [run.params["body"] for run in ActionRun.objects.order_by("pk")]
    assert [len(text) for text in bodies[:5]] == [9_000_810] * 5
    assert all(text.endswith(f"exceeds {mustache.MAX_RUN_CHARACTERS} characters") for text in bodies[5:])
    assert len(bodies) == 8
