"""What a rule's data can do to an HTML email, delivered to a real aiosmtpd server.

Values in `{{context.*}}` come from indexed documents (here the group a threshold rule alerts on), so
they are attacker-controlled. Kibana renders `message` with markdown-it (raw HTML escaped, links
made from bare URLs) after escaping the values as Markdown; `messageHTML` values are HTML-escaped."""

from django.utils import timezone

from actions import worker
from actions.rule_runner import run_rule
from actions.rules import create_rule
from connectors.types.email import html_from_markdown
from tests.actions.helpers import add_documents, threshold_rule_body
from tests.connectors.types.conftest import make_connector

INJECTED_HTML = '<img src=x onerror="alert(1)">'
INJECTED_LINK = "[Reset your password](https://evil.example/reset)"


def email_connector(space, port, **config):
    return make_connector(
        space,
        ".email",
        config={
            "service": "other",
            "host": "127.0.0.1",
            "port": port,
            "secure": False,
            "hasAuth": False,
            "from": "alerts@example.com",
            **config,
        },
        secrets={},
    )


def fire_rule_for_group(space, connector, group: str, params: dict) -> None:
    body = threshold_rule_body(connector.id, group_by="host")
    body["actions"][0]["params"] = {"to": ["ops@example.com"], "subject": "alert", **params}
    rule = create_rule(space, body, user="elastic")
    add_documents("metrics", [{"host": group}] * 3)
    run_rule(rule.id, now=timezone.now())
    worker.run_pending()


def html_part(server) -> str:
    return server.last["message"].get_body(preferencelist=("html",)).get_content()


def test_raw_html_in_a_rules_message_reaches_the_mail_as_text(default_space, smtp_server):
    server = smtp_server()
    connector = email_connector(default_space, server.port)

    fire_rule_for_group(
        default_space, connector, INJECTED_HTML, {"message": "Host {{context.group}} is down"}
    )

    html = html_part(server)
    assert "<img" not in html
    assert "&lt;img" in html


def test_markdown_in_a_rules_value_is_not_turned_into_a_link(default_space, smtp_server):
    server = smtp_server()
    connector = email_connector(default_space, server.port)

    fire_rule_for_group(
        default_space, connector, INJECTED_LINK, {"message": "Host {{context.group}} is down"}
    )

    html = html_part(server)
    assert '<a href="https://evil.example/reset">Reset your password</a>' not in html
    assert "Reset your password" in html


def test_values_in_message_html_are_html_escaped(default_space, smtp_server):
    server = smtp_server()
    connector = email_connector(default_space, server.port, allowHtml=True)

    fire_rule_for_group(
        default_space,
        connector,
        INJECTED_HTML,
        {"message": "m", "messageHTML": "<p>Host {{context.group}} is down</p>"},
    )

    html = html_part(server)
    assert html.startswith("<p>Host &lt;img src=x onerror=&quot;alert(1)&quot;&gt; is down</p>")


def test_the_markdown_renderer_escapes_html_links_bare_urls_and_refuses_javascript_links():
    html = html_from_markdown(
        "**Disk** full: <script>steal()</script> see https://status.example.com and [x](javascript:alert(1))"
    )
    assert "<strong>Disk</strong>" in html
    assert "&lt;script&gt;steal()&lt;/script&gt;" in html
    assert '<a href="https://status.example.com">https://status.example.com</a>' in html
    assert "javascript:" not in html.split("[x]")[0] and 'href="javascript' not in html
