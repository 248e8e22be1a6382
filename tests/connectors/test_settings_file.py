import pytest
from django.core.exceptions import ImproperlyConfigured

from connectors.settings_file import load_config_file, parse_config_dict

PASTED_BLOCK = """
xpack.actions.allowedHosts: ["hooks.slack.com", "events.pagerduty.com"]
xpack.actions.enabledActionTypes: [".slack", ".pagerduty", ".webhook"]
xpack.actions.preconfigured:
  my-slack1:
    actionTypeId: .slack
    name: 'Slack #xyz'
    secrets:
      webhookUrl: 'https://hooks.slack.com/services/abcd/efgh/ijklmnopqrstuvwxyz'
xpack.actions:
  responseTimeout: 30s
  ssl:
    verificationMode: certificate
xpack.actions.customHostSettings:
  - url: smtp://mail.example.com:465
    smtp:
      requireTLS: true
"""


def test_a_pasted_kibana_block_in_mixed_form_is_read(tmp_path):
    path = tmp_path / "kibana.yml"
    path.write_text(PASTED_BLOCK)
    config = load_config_file(str(path))
    assert config["xpack.actions.allowedHosts"] == ("hooks.slack.com", "events.pagerduty.com")
    assert config["xpack.actions.preconfigured"]["my-slack1"]["name"] == "Slack #xyz"
    assert config["xpack.actions.responseTimeout"] == 30.0
    assert config["xpack.actions.ssl.verificationMode"] == "certificate"
    assert config["xpack.actions.customHostSettings"][0]["url"] == "smtp://mail.example.com:465"
    assert config["xpack.actions.customHostSettings"][0]["smtp.requireTLS"] is True


def test_flat_and_nested_forms_give_the_same_values():
    flat = parse_config_dict({"xpack.actions.maxResponseContentLength": "2mb", "xpack.actions.queued.max": 5})
    nested = parse_config_dict(
        {"xpack": {"actions": {"maxResponseContentLength": "2mb", "queued": {"max": 5}}}}
    )
    assert flat.values == nested.values
    assert flat["xpack.actions.maxResponseContentLength"] == 2 * 1024 * 1024


def test_kibana_defaults_apply_when_the_file_is_silent():
    config = parse_config_dict({})
    assert config["xpack.actions.allowedHosts"] == ("*",)
    assert config["xpack.actions.responseTimeout"] == 60.0
    assert config["xpack.actions.maxResponseContentLength"] == 1024 * 1024
    assert config["xpack.actions.queued.max"] == 1_000_000
    assert config["connectors.network.allowPrivateAddresses"] is False


def test_a_typo_is_a_start_up_error_naming_the_key():
    with pytest.raises(
        ImproperlyConfigured, match=r"unknown setting 'xpack.actions.allowedHost'.*allowedHosts"
    ):
        parse_config_dict({"xpack.actions.allowedHost": ["example.com"]})


def test_an_invalid_value_is_a_start_up_error_naming_the_key():
    with pytest.raises(
        ImproperlyConfigured, match=r"'xpack.actions.ssl.verificationMode'.*full, certificate, none"
    ):
        parse_config_dict({"xpack.actions.ssl.verificationMode": "strict"})
    with pytest.raises(ImproperlyConfigured, match=r"'xpack.actions.run.maxAttempts'"):
        parse_config_dict({"xpack.actions.run.maxAttempts": 11})


def test_reserved_preconfigured_ids_are_refused():
    with pytest.raises(ImproperlyConfigured, match='invalid preconfigured action id "__proto__"'):
        parse_config_dict(
            {"xpack.actions.preconfigured": {"__proto__": {"actionTypeId": ".index", "name": "x"}}}
        )


def test_invalid_yaml_names_the_variable(tmp_path):
    path = tmp_path / "kibana.yml"
    path.write_text("xpack.actions: [unclosed")
    with pytest.raises(ImproperlyConfigured, match="CONNECTORS_CONFIG"):
        load_config_file(str(path))
