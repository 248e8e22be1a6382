"""Kibana's internal execution-log and KPI routes (9.x POST body, 8.x GET query), the per-connector
variants, and the NDJSON export (spec §11)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.http import StreamingHttpResponse
from rest_framework.response import Response

from connectors import privileges
from connectors.api.base import KibanaView
from connectors.api.errors import BadRequest
from connectors.preconfigured import preconfigured_connectors
from connectors.schemas import Array, Enum, Field, Number, Object, OneOf, SchemaError, String
from eventlog import kql, queries

ORDER = Enum(("asc", "desc"))
SORT_ITEM = OneOf(
    [
        Object({"timestamp": Object({"order": ORDER})}),
        Object({"execution_duration": Object({"order": ORDER})}),
        Object({"schedule_delay": Object({"order": ORDER})}),
    ]
)


def _log_schema(with_paging: bool) -> Object:
    fields: dict[str, Field] = {
        "date_start": String(max_length=50),
        "date_end": String(max_length=50, default=None),
        "filter": String(max_length=4096, default=None),
        "namespaces": Array(String(max_length=1000), max_size=1000, default=None),
    }
    if with_paging:
        fields.update(
            {
                "per_page": Number(minimum=1, maximum=100, default=10),
                "page": Number(minimum=1, maximum=1000, default=1),
                "sort": Array(SORT_ITEM, max_size=10, default=lambda: [{"timestamp": {"order": "desc"}}]),
            }
        )
    return Object(fields)


LOG_SCHEMA = _log_schema(True)
KPI_SCHEMA = _log_schema(False)
EXPORT_SCHEMA = Object(
    {
        "date_start": String(max_length=50, default="90d"),
        "date_end": String(max_length=50, default=None),
        "filter": String(max_length=4096, default=None),
        "namespaces": Array(String(max_length=1000), max_size=1000, default=None),
        "event_action": String(default=None),
        "bulk_index": String(max_length=255, default=None),
    }
)
NUMERIC_KEYS = ("per_page", "page")
JSON_KEYS = ("sort", "namespaces")


def _coerce(raw: dict) -> dict:
    """Accept what Kibana's config-schema accepts: numbers as numeric strings and arrays as JSON
    strings (Kibana's own UI sends `sort` and `namespaces` JSON-encoded, even in a POST body)."""
    data = dict(raw)
    for key in NUMERIC_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            try:
                data[key] = int(value) if value.strip().lstrip("-").isdigit() else float(value)
            except ValueError:
                pass
    for key in JSON_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value.strip().startswith("["):
            try:
                data[key] = json.loads(value)
            except ValueError:
                pass
    return data


class _LogView(KibanaView):
    params_schema = LOG_SCHEMA

    def params(self, request) -> dict:
        if request.method == "GET":
            raw = {key: request.query_params.get(key) for key in request.query_params}
            if len(request.query_params.getlist("namespaces")) > 1:
                raw["namespaces"] = request.query_params.getlist("namespaces")
            where = "request query"
        else:
            raw = request.data
            where = "request body"
        try:
            if not isinstance(raw, dict):
                # config-schema's object: a string is JSON-parsed, anything else is refused in its words
                raw = self.params_schema.object_input(raw, where)
            return self.params_schema.validate(_coerce(raw), where)
        except SchemaError as exc:
            raise BadRequest(str(exc)) from None

    def space_ids(self, namespaces: list[str] | None) -> list[str]:
        if not namespaces:
            return [self.space_id]
        readable = privileges.readable_space_ids(self.request.user)
        if "*" in namespaces:
            return readable
        return [space for space in dict.fromkeys(namespaces) if space in readable]

    def query(
        self, params: dict, connector_id: str | None = None, *, space_agnostic: bool = True
    ) -> queries.LogQuery:
        """With `space_agnostic`, preconfigured connectors' runs of every space are added (Kibana's
        execution log); their rows carry no user or rule (see `queries._row`)."""
        now = datetime.now(UTC)
        start = queries.parse_date(params["date_start"], now)
        if start is None:
            raise BadRequest(f'Invalid date for parameter dateStart: "{params["date_start"]}"')
        end = now
        if params.get("date_end") is not None:
            end = queries.parse_date(params["date_end"], now)
            if end is None:
                raise BadRequest(f'Invalid date for parameter dateEnd: "{params["date_end"]}"')
        if params.get("filter"):
            try:
                kql.to_q(params["filter"])
            except kql.KqlTooComplex as exc:
                raise BadRequest(str(exc)) from None
            except kql.KqlError:
                raise BadRequest(f"Invalid kuery syntax for filter {params['filter']}") from None
        sort = [(name, spec["order"]) for item in params.get("sort") or [] for name, spec in item.items()]
        return queries.LogQuery(
            space_ids=self.space_ids(params.get("namespaces")),
            date_start=start,
            date_end=end,
            filter=params.get("filter"),
            connector_id=connector_id,
            page=int(params.get("page") or 1),
            per_page=int(params.get("per_page") or 10),
            sort=sort or [("timestamp", "desc")],
            space_agnostic_ids=list(preconfigured_connectors()) if space_agnostic else [],
        )

    def answer(self, request, connector_id=None):
        params = self.params(request)
        if connector_id is None:
            self.require("get")
        else:
            connector_id = self.connector(connector_id, "get").id
        return Response(self.compute(self.query(params, connector_id)))

    def get(self, request, connector_id=None):
        return self.answer(request, connector_id)

    def post(self, request, connector_id=None):
        return self.answer(request, connector_id)


class ExecutionLogView(_LogView):
    """`/internal/actions/_global_connector_execution_logs` and `/connector/{id}/_execution_logs`."""

    params_schema = LOG_SCHEMA

    def compute(self, query):
        return queries.execution_log(query)


class ExecutionKpiView(_LogView):
    """`/internal/actions/_global_connector_execution_kpi` and `/connector/{id}/_execution_kpi`."""

    params_schema = KPI_SCHEMA

    def compute(self, query):
        return queries.execution_kpi(query)


class EventExportView(_LogView):
    """`/internal/actions/_event_log/_export`: the event documents as NDJSON (GET query or POST body:
    date_start (default 90d), date_end, filter, namespaces, event_action, bulk_index)."""

    params_schema = EXPORT_SCHEMA

    def answer(self, request, connector_id=None):
        params = self.params(request)
        self.require("get")
        # Whole documents (user names, rule ids, error text): only of the caller's own spaces, never
        # the other spaces' runs of preconfigured connectors that the execution log lists (issue 16).
        query = self.query(params, space_agnostic=False)
        actions = [a.strip() for a in (params.get("event_action") or "").split(",") if a.strip()]
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        response = StreamingHttpResponse(
            queries.export_lines(query, actions=actions, bulk_index=params.get("bulk_index")),
            content_type="application/x-ndjson",
        )
        response["Content-Disposition"] = f'attachment; filename="event-log-{self.space_id}-{stamp}.ndjson"'
        return response
