"""The places where the higher apps plug their behaviour into `connectors`.

`connectors` is the base layer: it never imports `eventlog` or `actions` (import-linter enforces it).
Yet its API and admin show things those apps own: a connector is *run* by the actions runner, its
failures and log come from the event log, and rules reference it. Each such piece is a named slot
here that the owning app fills in its `AppConfig.ready()`, the way Django and DRF let apps register
behaviour. A slot left empty (an app not installed) degrades to "nothing to show", never an error,
except running a connector, which needs its runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Slots:
    # (connector, params, *, source, user) -> ExecutionResult: the one code path that runs a connector.
    run_connector: Callable[..., Any] | None = None
    # (connector_ids or None, space_ids) -> {connector id: failed runs in the last 24 hours there}
    failures_last_24h: Callable[..., dict[str, int]] | None = None
    # (request, connector) -> HTML of the connector's execution log for the admin page
    render_connector_log: Callable[..., str] | None = None
    # (space_id, connector_ids) -> {connector id: number of rules referencing it}
    rule_reference_counts: Callable[[str, list[str]], dict[str, int]] | None = None
    # (space_id, connector_id) -> the rules referencing the connector
    rules_referencing: Callable[[str, str], list] | None = None
    # (request, space_ids) -> context for the admin home: recent failures, queue depth, workers
    admin_home: Callable[..., dict] | None = None
    # steps `manage.py bootstrap` runs after creating the default space (schedules and such)
    bootstrap_steps: list[Callable[[], Any]] = field(default_factory=list)


slots = _Slots()


def register(**providers) -> None:
    """Fill named slots, e.g. `register(run_connector=execute_for_connectors)`; unknown names raise."""
    for name, provider in providers.items():
        if name == "bootstrap_steps" or not hasattr(slots, name):
            raise TypeError(f"connectors.extensions has no slot {name!r}")
        setattr(slots, name, provider)


def register_bootstrap_step(step: Callable[[], Any]) -> None:
    if step not in slots.bootstrap_steps:
        slots.bootstrap_steps.append(step)


def run_connector(connector, params: dict, *, source: str, user: str | None):
    if slots.run_connector is None:
        raise RuntimeError("no connector runner is registered (is the `actions` app installed?)")
    return slots.run_connector(connector, params, source=source, user=user)


def failures_last_24h(connector_ids: list[str] | None, *, space_ids: list[str]) -> dict[str, int]:
    """Failed runs in the spaces named only: an id deleted in one space can be taken in another."""
    return slots.failures_last_24h(connector_ids, space_ids=space_ids) if slots.failures_last_24h else {}


def render_connector_log(request, connector) -> str:
    return slots.render_connector_log(request, connector) if slots.render_connector_log else ""


def admin_home(request, space_ids: list[str]) -> dict:
    return slots.admin_home(request, space_ids) if slots.admin_home else {}


def rule_reference_counts(space_id: str, connector_ids: list[str]) -> dict[str, int]:
    return slots.rule_reference_counts(space_id, connector_ids) if slots.rule_reference_counts else {}


def rules_referencing(space_id: str, connector_id: str) -> list:
    return slots.rules_referencing(space_id, connector_id) if slots.rules_referencing else []
