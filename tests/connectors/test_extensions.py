"""The slots through which higher apps plug behaviour into `connectors` (connectors/extensions.py)."""

import pytest

from connectors import extensions


def test_registering_a_slot_that_does_not_exist_raises():
    with pytest.raises(TypeError, match="no slot 'run_conector'"):
        extensions.register(run_conector=lambda *a, **k: None)


def test_the_installed_apps_fill_every_slot():
    slots = extensions.slots
    assert slots.run_connector is not None
    assert slots.failures_last_24h is not None and slots.render_connector_log is not None
    assert slots.rule_reference_counts is not None and slots.rules_referencing is not None
    assert any(step.__name__ == "ensure_retention_schedule" for step in slots.bootstrap_steps)


def test_an_empty_slot_shows_nothing_rather_than_failing(monkeypatch):
    monkeypatch.setattr(extensions.slots, "failures_last_24h", None)
    monkeypatch.setattr(extensions.slots, "rules_referencing", None)
    assert extensions.failures_last_24h(["a"], space_ids=["default"]) == {}
    assert extensions.rules_referencing("default", "a") == []


def test_running_a_connector_without_a_runner_says_which_app_is_missing(monkeypatch):
    monkeypatch.setattr(extensions.slots, "run_connector", None)
    with pytest.raises(RuntimeError, match="actions"):
        extensions.run_connector(object(), {}, source="http_request", user="elastic")
