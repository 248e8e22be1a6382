"""Task Manager health (Kibana's route), Prometheus metrics, and the liveness/readiness probes."""

from __future__ import annotations

import hmac
import logging

from django.db import connection
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework.response import Response

from connectors.api.base import KibanaView
from connectors.conf import get_config
from eventlog import health, metrics

logger = logging.getLogger("eventlog")


class TaskManagerHealthView(KibanaView):
    """`GET /api/task_manager/_health`: any authenticated user, as in Kibana (no feature privilege)."""

    def get(self, request):
        return Response(health.task_manager_health())


def metrics_view(request, space_id=None):
    """`GET /metrics`: counts only, never names, messages or secrets; read-only (the workers fold the
    rollup). With `connectors.metrics.token` set, the scraper must send it as a bearer token."""
    token = get_config()["connectors.metrics.token"]
    if token is not None:
        sent = request.headers.get("Authorization", "")
        scheme, _, credential = sent.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(credential.strip().encode(), token.encode()):
            response = JsonResponse(
                {
                    "statusCode": 401,
                    "error": "Unauthorized",
                    "message": "A valid metrics bearer token is required.",
                },
                status=401,
            )
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return HttpResponse(metrics.render(), content_type=CONTENT_TYPE_LATEST)


def healthz(request, space_id=None):
    """Liveness: the process answers. Touches nothing else."""
    return JsonResponse({"status": "ok"})


def readiness_checks() -> dict[str, str]:
    """`{"database": "ok" | "unreachable (...)", "broker": ..., "secrets": ...}`: what `/readyz` and
    `/api/status` report. `secrets`: the configured encryption keys open the stored secrets (a sample)."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as exc:  # report the kind only: driver messages may carry a DSN
        logger.warning("readiness: database check failed: %s", type(exc).__name__)
        checks["database"] = f"unreachable ({type(exc).__name__})"
    try:
        broker = health._broker()
        if not broker.ping():
            raise ConnectionError("ping failed")
        broker.queue_size()
        checks["broker"] = "ok"
    except Exception as exc:
        logger.warning("readiness: broker check failed: %s", type(exc).__name__)
        checks["broker"] = f"unreachable ({type(exc).__name__})"
    if checks["database"] == "ok":
        from connectors.secrets_check import check_stored_secrets

        try:
            secrets = check_stored_secrets()
            checks["secrets"] = "ok" if secrets.ok else secrets.message
            if not secrets.ok:
                logger.error("readiness: %s", secrets.message)
        except Exception as exc:
            logger.warning("readiness: secrets check failed: %s", type(exc).__name__)
            checks["secrets"] = f"not checked ({type(exc).__name__})"
    return checks


def readyz(request, space_id=None):
    """Readiness: the database answers a query, the django-q2 broker is reachable and the configured
    encryption keys open the stored secrets (a sample)."""
    checks = readiness_checks()
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )
