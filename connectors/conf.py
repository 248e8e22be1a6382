"""Access to the parsed `kibana.yml`-style settings. Read at call time so tests can override it."""

from django.conf import settings

from connectors.settings_file import KibanaConfig


def get_config() -> KibanaConfig:
    return settings.KIBANA_CONFIG
