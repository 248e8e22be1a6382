"""The rule-type contract and its registry (filled from `settings.RULE_TYPES`, like connector types).

A rule type validates its params and, on each run, reports alerts: `{alert id: ReportedAlert}`.
The framework (`actions.rule_runner`) turns reports into alert state, recoveries and actions.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.utils.module_loading import import_string

RECOVERED = {"id": "recovered", "name": "Recovered"}


class RuleTypeNotRegistered(Exception):
    def __init__(self, type_id: str):
        super().__init__(f'Rule type "{type_id}" is not registered.')


class ParamsInvalid(Exception):
    """A params problem; the API answers `params invalid: <message>`."""


@dataclass
class ReportedAlert:
    action_group: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunContext:
    rule: Any  # actions.models.Rule
    params: dict
    now: datetime
    state: dict
    logger: Any = None


@dataclass
class RunOutcome:
    alerts: dict[str, ReportedAlert]
    state: dict = field(default_factory=dict)
    # Recovery context for alerts that recover in this run, by alert id (rule types that set it).
    recovery_context: dict[str, dict] = field(default_factory=dict)
    # More alerts matched than the framework may report (`maxAlerts`).
    limit_reached: bool = False


class RuleType:
    """Subclass, set the attributes, implement `validate_params()` and `run()`."""

    type_id: ClassVar[str]
    name: ClassVar[str]
    producer: ClassVar[str] = "stackAlerts"
    action_groups: ClassVar[list[dict[str, str]]] = []
    default_action_group_id: ClassVar[str] = "default"
    minimum_license: ClassVar[str] = "basic"
    is_exportable: ClassVar[bool] = True
    does_set_recovery_context: ClassVar[bool] = False
    category: ClassVar[str] = "management"
    action_variables: ClassVar[dict[str, list[dict[str, str]]]] = {"context": [], "state": [], "params": []}
    # Our rule types all keep alert documents, so summaries and alerts_filter are allowed.
    has_alerts: ClassVar[bool] = True
    # Kibana's `alerts` (IRuleTypeAlerts) of a type that writes alerts-as-data, as `rule_types` lists
    # it: the alerts index context, the type's own field mappings, `shouldWrite` (and `useEcs`).
    # None for a type without alert documents; see alerts_config().
    alerts: ClassVar[dict[str, Any] | None] = None
    # Kibana's ruleTaskTimeout of the type (None: the framework's); see task_timeout().
    rule_task_timeout: ClassVar[str | None] = None
    # Whether a run can be replayed for a past moment (the backfill API); see actions/backfill.py.
    supports_backfill: ClassVar[bool] = False
    # The params as a connectors.schemas.Object, for the admin's rule editor only (validation stays
    # in validate_params). None: the editor offers one JSON textarea. Its fields carry the editor's
    # hints as a connector type's do: `shown_when` (show an input only while another param has one
    # of some values) and `choice_labels` (words for a select's values).
    params_schema: ClassVar[Any] = None

    def validate_params(self, params: Any) -> dict:
        """Return cleaned params with defaults; raise ParamsInvalid with Kibana's message."""
        raise NotImplementedError(".validate_params() must be overridden")

    def run(self, ctx: RunContext) -> RunOutcome:
        raise NotImplementedError(".run() must be overridden")

    def merge_state(self, fresh: dict, outcome: dict) -> dict:
        """The state to store after a run; `fresh` is the state as stored now (it may have changed)."""
        return outcome

    def alerts_config(self) -> dict[str, Any] | None:
        """The `alerts` object `rule_types` shows (a copy): the type's own, else for a type keeping alert
        documents its own context with only the framework's fields, as Kibana registers such a type."""
        if not self.has_alerts:
            return None
        if self.alerts is not None:
            return copy.deepcopy(self.alerts)
        context = self.type_id.lstrip(".")
        return {"context": context, "mappings": {"fieldMap": {}}, "shouldWrite": True}

    def all_action_groups(self) -> list[dict[str, str]]:
        return [*self.action_groups, RECOVERED]

    def group_name(self, group_id: str) -> str:
        for group in self.all_action_groups():
            if group["id"] == group_id:
                return group["name"]
        return group_id


_types: dict[str, RuleType] = {}


def load_from_settings() -> None:
    _types.clear()
    for dotted in settings.RULE_TYPES:
        instance = import_string(dotted)()
        if instance.type_id in _types:
            raise ValueError(f"Rule type {instance.type_id!r} is registered twice")
        _types[instance.type_id] = instance


def get(type_id: str) -> RuleType:
    if not _types:
        load_from_settings()
    try:
        return _types[type_id]
    except KeyError:
        raise RuleTypeNotRegistered(type_id) from None


DEFAULT_TASK_TIMEOUT = "5m"


def task_timeout(rule_type: RuleType) -> str:
    """Kibana's getRuleTaskTimeout: `xpack.alerting.rules.run.ruleTypeOverrides` for the type, else
    `xpack.alerting.rules.run.timeout`, else the type's own, else 5m."""
    return _task_timeout(rule_type.type_id, rule_type.rule_task_timeout)


def task_timeout_of(type_id: str) -> str:
    """task_timeout() by id; an unregistered type gets the configured or default timeout."""
    try:
        own = get(type_id).rule_task_timeout
    except RuleTypeNotRegistered:
        own = None
    return _task_timeout(type_id, own)


def _task_timeout(type_id: str, own: str | None) -> str:
    from connectors.conf import get_config

    config = get_config()
    for override in config["xpack.alerting.rules.run.ruleTypeOverrides"]:
        if override["id"] == type_id:
            return override["timeout"]
    return config["xpack.alerting.rules.run.timeout"] or own or DEFAULT_TASK_TIMEOUT


def all_types() -> list[RuleType]:
    if not _types:
        load_from_settings()
    return sorted(_types.values(), key=lambda t: t.type_id)
