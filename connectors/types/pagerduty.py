"""`.pagerduty`: trigger, acknowledge or resolve a PagerDuty incident through Events API v2."""

from datetime import UTC, datetime

from connectors import egress, http
from connectors.base import ConnectorType, ExecutionContext, ExecutionResult
from connectors.exceptions import ConnectorError, EgressDenied
from connectors.schemas import Any_, Array, Enum, Object, Record, String

DEFAULT_API_URL = "https://events.pagerduty.com/v2/enqueue"
EVENT_ACTIONS = ("trigger", "resolve", "acknowledge")
SEVERITIES = ("critical", "error", "warning", "info")


def parse_timestamp(value: str) -> datetime | None:
    """Kibana's convertTimestamp + Date.parse: an all-digit string is epoch milliseconds."""
    text = value.strip()
    if text.isdigit():
        try:
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    candidate = text.replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


class PagerDutyConnector(ConnectorType):
    type_id = ".pagerduty"
    name = "PagerDuty"
    description = "Send an event in PagerDuty."
    icon = "pagerduty"
    config_schema = Object(
        {
            "apiUrl": String(
                nullable=True, default=None, label="API URL", help=f"Optional; defaults to {DEFAULT_API_URL}"
            )
        }
    )
    secrets_schema = Object(
        {"routingKey": String(label="Integration key", secret=True, help="Events API v2 routing key")}
    )
    # Every param is schema.maybe: absent is fine, null is refused (config-schema's maybe_type).
    params_schema = Object(
        {
            "eventAction": Enum(EVENT_ACTIONS, optional=True, label="Event action"),
            "dedupKey": String(max_length=255, optional=True, label="Dedup key"),
            "summary": String(max_length=1024, optional=True, label="Summary"),
            "source": String(optional=True, label="Source"),
            "severity": Enum(SEVERITIES, optional=True, label="Severity"),
            "timestamp": String(optional=True, label="Timestamp"),
            "component": String(optional=True, label="Component"),
            "group": String(optional=True, label="Group"),
            "class": String(optional=True, label="Class"),
            "links": Array(
                Object({"href": String(label="URL"), "text": String(label="Text")}),
                optional=True,
                label="Links",
            ),
            "customDetails": Record(Any_(), optional=True, label="Custom details", widget="code"),
        }
    )

    test_params_schema = params_schema  # the Test tab asks for every param (spec §7)

    def api_url(self, config: dict, settings) -> str:
        return config.get("apiUrl") or settings.service_url(self.type_id, DEFAULT_API_URL)

    def check_config(self, config, settings):
        try:
            egress.ensure_uri_allowed(self.api_url(config, settings), settings)
        except EgressDenied as exc:
            return f"error configuring pagerduty action: {exc.message}"
        return None

    def check_params(self, params, settings):
        timestamp = params.get("timestamp")
        if timestamp is not None and parse_timestamp(timestamp) is None:
            return f'error parsing timestamp "{timestamp}"'
        action = params.get("eventAction")
        if action in ("resolve", "acknowledge") and not params.get("dedupKey"):
            return f'DedupKey is required when eventAction is "{action}"'
        return None

    def body(self, connector_id: str, params: dict) -> dict:
        """Kibana's getBodyForEventAction, key for key and in the same order."""
        action = params.get("eventAction") or "trigger"
        data: dict = {"event_action": action}
        if params.get("dedupKey"):
            data["dedup_key"] = params["dedupKey"]
        if action != "trigger":
            return data
        payload: dict = {
            "summary": params.get("summary") or "No summary provided.",
            "source": params.get("source") or f"Kibana Action {connector_id}",
            "severity": params.get("severity") or "info",
        }
        if params.get("timestamp"):
            payload["timestamp"] = http.iso_ms(parse_timestamp(params["timestamp"]))
        for name in ("component", "group", "class"):
            if params.get(name) is not None:
                payload[name] = params[name]
        if params.get("customDetails") is not None:
            payload["custom_details"] = params["customDetails"]
        data["payload"] = payload
        if params.get("links") is not None:
            data["links"] = params["links"]
        return data

    def run(self, ctx: ExecutionContext) -> ExecutionResult:
        url = self.api_url(ctx.config, ctx.settings)
        try:
            response = http.send(
                "post",
                url,
                settings=ctx.settings,
                headers={"Content-Type": "application/json", "X-Routing-Key": ctx.secrets["routingKey"]},
                json=self.body(ctx.connector_id, ctx.params),
            )
        except EgressDenied as exc:
            raise ConnectorError(
                "error posting pagerduty event", service_message=exc.message, retry=False, error_source="user"
            ) from None
        except ConnectorError as exc:
            raise ConnectorError(
                "error posting pagerduty event",
                service_message=exc.service_message or exc.message,
                retry=True,
            ) from None
        status = response.status_code
        if status == 202:
            return ExecutionResult.success(response.json_or_none())
        if status == 429 or status >= 500:
            raise ConnectorError(
                f"error posting pagerduty event: http status {status}, retry later", retry=True
            )
        raise ConnectorError(
            f"error posting pagerduty event: unexpected status {status}",
            retry=False,
            error_source="user" if 400 <= status < 500 else "framework",
        )
