"""`xpack.actions.email.domain_allowlist` against a user who may only run a connector (`read` is
enough for `_execute`): whatever reaches the message's addresses, including `replyTo` and text that
still holds `{{...}}` (which saving lets through because it renders later), is checked when it runs."""

import pytest

from connectors.models import Connector
from tests.api.conftest import client_for, grant, make_user


@pytest.fixture
def json_mailer(default_space):
    connector = Connector(
        space=default_space,
        name="mailer",
        connector_type_id=".email",
        config={"service": "__json", "from": "alerts@example.com", "hasAuth": False},
    )
    connector.set_secrets({})
    connector.save()
    return connector


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"to": ["ops@example.com"], "replyTo": ["{{context.owner}} <thief@evil.example>"]},
        {"to": ["ops@example.com"], "replyTo": ['"{{x}}" <thief@evil.example>']},
        {"to": ["{{x}} <thief@evil.example>"]},
        {"to": ["ops@example.com"], "bcc": ["{{x}} <thief@evil.example>"]},
    ],
)
def test_a_reader_cannot_execute_an_email_to_or_replying_to_a_domain_outside_the_allow_list(
    kibana_settings, json_mailer, params
):
    kibana_settings.set({"xpack.actions.email.domain_allowlist": ["example.com"]})
    reader = make_user("reader")
    grant(reader, "default", "read")

    response = client_for(reader, "basic").post(
        f"/api/actions/connector/{json_mailer.id}/_execute",
        {"params": {"subject": "s", "message": "m", **params}},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "error", body
    assert "not allowed emails: " in body["message"]
    assert "data" not in body
