"""The connector-type contract. Subclass ConnectorType, set the class attributes, implement run()."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from connectors.exceptions import ConfigurationError, ConnectorError
from connectors.schemas import Object, SchemaError, validate_object
from connectors.settings_file import KibanaConfig


def iso_ms(moment: datetime) -> str:
    """JavaScript's `Date.toISOString()`: milliseconds and a `Z`, as Kibana prints dates."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


LICENSES = ("basic", "standard", "gold", "platinum", "enterprise", "trial")


@dataclass
class ExecutionResult:
    """Kibana's ActionTypeExecutorResult."""

    status: str
    data: Any = None
    message: str | None = None
    service_message: str | None = None
    retry: bool | datetime | None = None
    error_source: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def success(cls, data: Any = None) -> ExecutionResult:
        return cls(status="ok", data=data)

    @classmethod
    def from_error(cls, error: ConnectorError) -> ExecutionResult:
        return cls(
            status="error",
            data=error.data,
            message=error.message,
            service_message=error.service_message,
            retry=error.retry,
            error_source=error.error_source,
        )

    def to_api(self, connector_id: str) -> dict[str, Any]:
        """The `_execute` response body: snake_case, `errorSource` camelCase, as Kibana's."""
        body: dict[str, Any] = {"connector_id": connector_id, "status": self.status}
        if self.data is not None:
            body["data"] = self.data
        if self.message is not None:
            body["message"] = self.message
        if self.service_message is not None:
            body["service_message"] = self.service_message
        if self.retry is not None and self.status == "error":
            body["retry"] = iso_ms(self.retry) if isinstance(self.retry, datetime) else self.retry
        if self.error_source is not None and self.status == "error":
            body["errorSource"] = self.error_source
        return body


@dataclass
class ExecutionContext:
    """Everything a type needs for one run. Secrets are opened just before the run."""

    connector_id: str
    connector_name: str
    config: dict[str, Any]
    secrets: dict[str, Any]
    params: dict[str, Any]
    settings: KibanaConfig
    space_id: str = "default"
    execution_id: str = ""
    source: str = "http_request"
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("connectors.run"))

    def __repr__(self) -> str:  # never show secrets, even in a traceback
        return f"<ExecutionContext {self.connector_id} {self.connector_name!r}>"


class ConnectorType:
    """One kind of connector. Identity and schemas are class constants; behaviour is `run()`.

    - `type_id`, `name`: Kibana's id (".webhook") and display name ("Webhook").
    - `minimum_license`: reported only; nothing is license-gated here.
    - `supported_feature_ids`: Kibana's feature ids, for `?feature_id=` filtering.
    - `config_schema`, `secrets_schema`, `params_schema`: declarative, Kibana's field names.
    - `test_params_schema`: what the admin's Test tab asks for (defaults to `params_schema`).
    - `rule_params_schema`: what the rule editor asks for in an action when Kibana's action form asks
      for less than `params_schema` (one sub-action's inputs, Email's to … message); the params it
      does not show are kept as stored. Else the editor follows `params_schema`.
    - `max_attempts`: the type's own default; settings may override it.
    - `escape`: Mustache escaping for rule-rendered params (`none`, `json`, `markdown`, `slack`, `html`),
      or a map of top-level param name to mode with `*` for the rest (`.email`).
    """

    type_id: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str] = ""
    icon: ClassVar[str] = "plug"
    minimum_license: ClassVar[str] = "gold"
    supported_feature_ids: ClassVar[tuple[str, ...]] = ("alerting", "uptime", "siem")
    config_schema: ClassVar[Object] = Object({})
    secrets_schema: ClassVar[Object] = Object({})
    params_schema: ClassVar[Object] = Object({})
    test_params_schema: ClassVar[Object | None] = None
    rule_params_schema: ClassVar[Object | None] = None
    max_attempts: ClassVar[int | None] = None
    escape: ClassVar[str | dict[str, str]] = "none"
    is_system_action_type: ClassVar[bool] = False

    # ---- validation ---------------------------------------------------------------------------

    def validate_config(self, config: Any, settings: KibanaConfig) -> dict:
        return _validated("action type config", self.config_schema, config, self.check_config, settings)

    def validate_secrets(self, secrets: Any, settings: KibanaConfig) -> dict:
        return _validated("action type secrets", self.secrets_schema, secrets, self.check_secrets, settings)

    def validate_connector(self, config: dict, secrets: dict) -> None:
        problem = self.check_connector(config, secrets)
        if problem:
            raise ConfigurationError(f"error validating action type connector: {problem}")

    def validate_params(self, params: Any, settings: KibanaConfig) -> dict:
        return _validated("action params", self.params_schema, params, self.check_params, settings)

    # Hooks for cross-field rules; return a message (without Kibana's prefix) or None.
    def check_config(self, config: dict, settings: KibanaConfig) -> str | None:
        return None

    def check_secrets(self, secrets: dict, settings: KibanaConfig) -> str | None:
        return None

    def check_connector(self, config: dict, secrets: dict) -> str | None:
        return None

    def check_form_secrets(self, config: dict, secrets: dict) -> str | None:
        """What the admin's forms (create, edit, Fix) require beyond the API's validation, as
        Kibana's connector forms do; worded like `check_connector` (`[user] is required`)."""
        return None

    def check_params(self, params: dict, settings: KibanaConfig) -> str | None:
        return None

    # ---- execution ----------------------------------------------------------------------------

    def run(self, ctx: ExecutionContext) -> ExecutionResult | None:
        """Do the work. Raise ConnectorError (or return an error result) on failure; returning
        None means success with no data."""
        raise NotImplementedError(".run() must be overridden")

    # ---- description --------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.type_id,
            "name": self.name,
            "description": self.description,
            "icon": self.icon,
            "config": self.config_schema.describe()["fields"],
            "secrets": self.secrets_schema.describe()["fields"],
            "params": self.params_schema.describe()["fields"],
            "test_params": (self.test_params_schema or self.params_schema).describe()["fields"],
        }

    def __repr__(self) -> str:
        return f"<ConnectorType {self.type_id}>"


def _validated(what: str, schema: Object, value: Any, check, settings: KibanaConfig) -> dict:
    """The schema's cleaned value, then the type's `check` hook; either problem is Kibana's
    `error validating <what>: <problem>`."""
    try:
        cleaned = validate_object(schema, value)
        problem = check(cleaned, settings)
    except SchemaError as exc:
        raise ConfigurationError(f"error validating {what}: {exc}") from None
    if problem:
        raise ConfigurationError(f"error validating {what}: {problem}")
    return cleaned
