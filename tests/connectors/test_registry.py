import pytest

from connectors import registry
from connectors.exceptions import AlreadyRegistered, UnknownConnectorType
from connectors.types.webhook import WebhookConnector


def test_every_type_in_settings_is_registered(settings):
    ids = {t.type_id for t in registry.all_types()}
    assert {".server-log", ".index", ".webhook"} <= ids
    assert len(ids) == len(settings.CONNECTOR_TYPES)


def test_a_duplicate_type_is_an_error():
    with pytest.raises(AlreadyRegistered):
        registry.register(WebhookConnector)


def test_an_unknown_type_has_kibanas_message():
    with pytest.raises(UnknownConnectorType, match=r'^Action type "\.nope" is not registered\.$'):
        registry.get(".nope")
