"""Helpers for the catalog II tests: connectors saved as rows, and a check that no secret escaped."""

import json
import logging

import pytest

from actions.services import execute
from connectors.models import Connector
from eventlog.models import Event


@pytest.fixture
def make_connector(default_space):
    def make(type_id, config, secrets, name="My connector"):
        connector = Connector(space=default_space, name=name, connector_type_id=type_id, config=config)
        connector.set_secrets(secrets)
        connector.save()
        return connector

    return make


@pytest.fixture
def run(caplog):
    """Execute and return the result; fails if any marker secret shows up in the result, the event log
    or the log records."""

    def go(connector, params, *, secrets=()):
        caplog.set_level(logging.DEBUG)
        result = execute(connector, params)
        outputs = [
            json.dumps(result.to_api(connector.id), default=str),
            *(json.dumps(e.document) + e.message for e in Event.objects.filter(connector_id=connector.id)),
            caplog.text,
        ]
        for secret in secrets:
            for output in outputs:
                assert secret not in output
        return result

    return go
