"""Start-up checks: every registered type is sane, every preconfigured connector is valid."""

from django.core import checks

from connectors import registry
from connectors.conf import get_config
from connectors.exceptions import ConfigurationError, UnknownConnectorType
from connectors.schemas import Object


@checks.register("connectors")
def check_connector_types(app_configs, **kwargs):
    errors = []
    for connector_type in registry.all_types():
        for attribute in ("config_schema", "secrets_schema", "params_schema"):
            if not isinstance(getattr(connector_type, attribute), Object):
                errors.append(
                    checks.Error(
                        f"{connector_type.type_id}: {attribute} must be a connectors.schemas.Object",
                        id="connectors.E001",
                    )
                )
        if not getattr(connector_type, "name", ""):
            errors.append(
                checks.Error(f"{connector_type.type_id}: a connector type needs a name", id="connectors.E002")
            )
    return errors


@checks.register("connectors")
def check_preconfigured_connectors(app_configs, **kwargs):
    errors = []
    config = get_config()
    for connector_id, body in config["xpack.actions.preconfigured"].items():
        where = f"xpack.actions.preconfigured.{connector_id}"
        try:
            connector_type = registry.get(body["actionTypeId"])
        except UnknownConnectorType as exc:
            errors.append(checks.Error(f"{where}: {exc}", id="connectors.E010"))
            continue
        try:
            validated_config = connector_type.validate_config(body["config"], config)
            validated_secrets = connector_type.validate_secrets(body["secrets"], config)
            connector_type.validate_connector(validated_config, validated_secrets)
        except ConfigurationError as exc:
            errors.append(checks.Error(f"{where}: {exc.message}", id="connectors.E011"))
    return errors
