"""Kibana's `GET /api/status` and `GET /api/stats`: what clients read before anything else (the
version) and what load balancers poll (the 200/503 code).

- `version.number` is the Kibana API version this service is wire-compatible with; our own release is
  `connectors.version` (an extra key, as Kibana's body has none for it).
- The levels come from the checks `/readyz` makes (eventlog/api/probes.py): the database stands for
  Kibana's core services (`elasticsearch` and `savedObjects`), the django-q2 broker for the
  `taskManager` plugin. As in Kibana, the HTTP code is 503 only when a *core* service is unavailable;
  a broker outage makes `status.overall` unavailable but the API still answers, so the code stays 200.
- Unauthenticated callers get the redacted body `{"status":{"overall":{"level":<core level>}}}` unless
  `status.allowAnonymous` is true. Bad credentials are a 401, as everywhere.
"""

from __future__ import annotations

import os
import platform
import socket
import time
from datetime import UTC, datetime
from importlib import metadata

from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.api import openapi as oas
from connectors.api.base import query_boolean
from connectors.api.errors import BadRequest
from connectors.conf import get_config
from eventlog.api.probes import readiness_checks
from eventlog.services import server_uuid

# The Kibana release whose API (routes, bodies, messages) this service follows; see docs/api.md.
KIBANA_API_VERSION = "9.4.0"
SERVER_NAME = "connectors"
COLLECTION_INTERVAL_MS = 5000
_STARTED = time.time()
_STARTED_AT = datetime.fromtimestamp(_STARTED, UTC)

LEVEL_ORDER = ("available", "degraded", "unavailable", "critical")
LEGACY = {
    "available": ("green", "Green", "success", "Looking good"),
    "degraded": ("yellow", "Yellow", "warning", "I'll be back"),
    "unavailable": ("red", "Red", "danger", "Danger Will Robinson! Danger!"),
    "critical": ("red", "Red", "danger", "Danger Will Robinson! Danger!"),
}


def own_version() -> str:
    try:
        return metadata.version("connectors")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _worst(levels) -> str:
    return max(levels, key=LEVEL_ORDER.index, default="available")


def service_statuses() -> tuple[dict, dict]:
    """(core, plugins): Kibana's `{level, summary, meta}` entries, from the readiness checks."""
    checks = readiness_checks()
    database_ok = checks["database"] == "ok"
    broker_ok = checks["broker"] == "ok"
    core = {
        "elasticsearch": {
            "level": "available" if database_ok else "unavailable",
            "summary": "Elasticsearch is available" if database_ok else "Unable to connect to the database",
            "meta": {},
        },
        "savedObjects": {
            "level": "available" if database_ok else "unavailable",
            "summary": "SavedObjects service has completed migrations and is available"
            if database_ok
            else "SavedObjects service is not available without the database",
            "meta": {},
        },
    }
    plugins = {
        "taskManager": {
            "level": "available" if broker_ok else "unavailable",
            "summary": "Task Manager is healthy" if broker_ok else "The task queue broker is unreachable",
            "meta": {},
        },
    }
    if "secrets" in checks:  # checked only while the database answers
        secrets_ok = checks["secrets"] == "ok"
        plugins["encryptedSavedObjects"] = {
            "level": "available" if secrets_ok else "degraded",
            "summary": "Stored secrets open with the configured keys"
            if secrets_ok
            else "Stored secrets do not open with the configured encryption keys",
            "meta": {},
        }
    return core, plugins


def _format(params) -> str:
    """`v8` or `v7`, with Kibana's rule: v8 only when `!v7format && v8format` (v8format defaults true)."""
    values = {}
    for key in ("v7format", "v8format"):
        value = query_boolean(params, key, None)
        if value is not None:
            values[key] = value
    if "v7format" in values and "v8format" in values:
        raise BadRequest("[request query]: provide only one format option: v7format or v8format")
    v7 = values.get("v7format", False)
    v8 = values.get("v8format", True)
    return "v8" if not v7 and v8 else "v7"


def _legacy_status(overall: str, core: dict, plugins: dict, now: str) -> dict:
    def entry(level):
        state, title, icon, nickname = LEGACY[level]
        return state, title, icon, nickname

    state, title, icon, nickname = entry(overall)
    statuses = []
    for prefix, services in (("core", core), ("plugin", plugins)):
        for name, service in services.items():
            s_state, _, s_icon, _ = entry(service["level"])
            statuses.append(
                {
                    "id": f"{prefix}:{name}@{KIBANA_API_VERSION}",
                    "state": s_state,
                    "message": service["summary"],
                    "uiColor": s_icon,
                    "icon": s_icon,
                    "since": now,
                }
            )
    return {
        "overall": {
            "state": state,
            "title": title,
            "nickname": nickname,
            "uiColor": icon,
            "icon": icon,
            "since": now,
        },
        "statuses": statuses,
    }


def _metrics(now: str) -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "last_updated": now,
        "collection_interval_in_millis": COLLECTION_INTERVAL_MS,
        "os": {
            "platform": platform.system().lower(),
            "load": {"1m": load[0], "5m": load[1], "15m": load[2]},
        },
        "process": {"pid": os.getpid(), "uptime_in_millis": int((time.time() - _STARTED) * 1000)},
        # Required by Kibana's status response schema; no Elasticsearch client here, so no sockets.
        "elasticsearch_client": {"totalActiveSockets": 0, "totalIdleSockets": 0, "totalQueuedRequests": 0},
    }


def version_body() -> dict:
    return {
        "number": KIBANA_API_VERSION,
        "build_hash": "",
        "build_number": 0,
        "build_snapshot": False,
        "build_flavor": "traditional",
        "build_date": _iso(_STARTED_AT),
    }


class StatusView(APIView):
    """`GET /api/status` (and under `/s/{space}`, as Kibana serves it there too)."""

    permission_classes = [AllowAny]

    @oas.operation(
        "Service status and version (Kibana's /api/status)",
        response={"type": "object"},
        error_codes=(400, 503),
        parameters=[oas.OpenApiParameter("v7format", bool), oas.OpenApiParameter("v8format", bool)],
    )
    def get(self, request, space_id=None):
        unknown = set(request.query_params) - {"v7format", "v8format"}
        if unknown:
            raise BadRequest(f"[request query.{sorted(unknown)[0]}]: definition for this key is missing")
        body_format = _format(request.query_params)
        core, plugins = service_statuses()
        core_level = _worst(s["level"] for s in core.values())
        status_code = 503 if LEVEL_ORDER.index(core_level) >= LEVEL_ORDER.index("unavailable") else 200
        user = request.user
        authenticated = user is not None and user.is_authenticated
        if not authenticated and not get_config()["status.allowAnonymous"]:
            return Response({"status": {"overall": {"level": core_level}}}, status=status_code)
        overall = _worst([core_level, *(s["level"] for s in plugins.values())])
        now = _iso(datetime.now(UTC))
        if body_format == "v8":
            summary = (
                "All services are available"
                if overall == "available"
                else f"{sum(s['level'] != 'available' for s in [*core.values(), *plugins.values()])} "
                "services are not available"
            )
            status = {"overall": {"level": overall, "summary": summary}, "core": core, "plugins": plugins}
        else:
            status = _legacy_status(overall, core, plugins, now)
        body = {
            "name": SERVER_NAME,
            "uuid": server_uuid(),
            "version": version_body(),
            "status": status,
            "metrics": _metrics(now),
            "connectors": {"version": own_version()},
        }
        return Response(body, status=status_code)


def _flag(params, key: str, default: bool) -> bool:
    # A bare `?extended` means true here; otherwise a config-schema boolean.
    if params.get(key) == "":
        return True
    return query_boolean(params, key, default)


class StatsView(APIView):
    """`GET /api/stats`: authenticated unless `status.allowAnonymous`, no feature privilege."""

    def get_permissions(self):
        if get_config()["status.allowAnonymous"]:
            return [AllowAny()]
        return [IsAuthenticated()]

    @oas.operation(
        "Service statistics (Kibana's /api/stats)",
        response={"type": "object"},
        error_codes=(400,),
        parameters=[oas.OpenApiParameter(n, bool) for n in ("extended", "legacy", "exclude_usage")],
    )
    def get(self, request, space_id=None):
        unknown = set(request.query_params) - {"extended", "legacy", "exclude_usage"}
        if unknown:
            raise BadRequest(f"[request query.{sorted(unknown)[0]}]: definition for this key is missing")
        extended = _flag(request.query_params, "extended", False)
        legacy = _flag(request.query_params, "legacy", False)
        _flag(request.query_params, "exclude_usage", True)  # deprecated, validated, no effect
        core, plugins = service_statuses()
        overall = _worst(s["level"] for s in [*core.values(), *plugins.values()])
        now = _iso(datetime.now(UTC))
        metrics = _metrics(now)
        body = {
            **metrics,
            "kibana": {
                "uuid": server_uuid(),
                "name": SERVER_NAME,
                "index": ".kibana",
                "host": socket.gethostname(),
                "locale": "en",
                "transport_address": request.get_host(),
                "version": KIBANA_API_VERSION,
                "snapshot": False,
                "status": LEGACY[overall][0],
            },
        }
        if extended:
            body["usage"] = {}
            body["clusterUuid" if legacy else "cluster_uuid"] = server_uuid()
        return Response(body)
