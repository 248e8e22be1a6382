"""The public rule routes as Kibana's API integration tests pin them: a new rule's single timestamp."""

import pytest

from actions.models import Rule
from tests.actions.helpers import make_webhook, threshold_rule_body


@pytest.fixture
def hook(default_space):
    return make_webhook(default_space, "http://127.0.0.1:9/hook")


# 4. Create: one timestamp


def test_a_new_rule_has_created_at_equal_to_updated_at(api, hook):
    for _ in range(20):
        body = api.post("/api/alerting/rule", threshold_rule_body(hook.id), format="json").json()
        assert body["created_at"] == body["updated_at"]
        stored = Rule.objects.get(pk=body["id"])
        assert stored.created_at == stored.updated_at
