"""The `kibana.yml`-style settings file.

A Kibana user can paste their `xpack.actions.*` block in as it is: flat dotted keys, nested maps, or
the mixed form Kibana's docs use. We flatten every form to dotted keys, stopping at the keys we know
(a key such as `xpack.actions.preconfigured` holds a map as its value). Our own extensions live under
`connectors.*`. Unknown keys and bad values raise ImproperlyConfigured naming the key.

Parsed once, at start-up, into a read-only `KibanaConfig`.
"""

import difflib
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import yaml
from django.core.exceptions import ImproperlyConfigured

VERIFICATION_MODES = ("full", "certificate", "none")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\Z")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_BYTE_SIZE = re.compile(r"^(\d+)\s*(b|kb|mb|gb)?\Z", re.IGNORECASE)
_BYTE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


class SettingError(ValueError):
    """A value that does not fit its key; the loader adds the key name."""


# ---- value parsers ------------------------------------------------------------------------------


def parse_duration(value: Any) -> float:
    """Kibana durations: `60s`, `5m`, `1h`, `500ms`, or a number of milliseconds. Returns seconds."""
    if isinstance(value, bool):
        raise SettingError(f"expected a duration such as 60s, got {value!r}")
    if isinstance(value, int | float):
        return float(value) / 1000
    match = _DURATION.match(str(value).strip())
    if not match:
        raise SettingError(f"expected a duration such as 60s, 5m or 1h, got {value!r}")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2) or "ms"]


def parse_byte_size(value: Any) -> int:
    """Kibana byte sizes: `1mb`, `512kb`, or a number of bytes."""
    if isinstance(value, bool):
        raise SettingError(f"expected a byte size such as 1mb, got {value!r}")
    if isinstance(value, int):
        return value
    match = _BYTE_SIZE.match(str(value).strip())
    if not match:
        raise SettingError(f"expected a byte size such as 1mb or 512kb, got {value!r}")
    return int(match.group(1)) * _BYTE_UNITS[(match.group(2) or "b").lower()]


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise SettingError(f"expected true or false, got {value!r}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SettingError(f"expected a non-empty string, got {value!r}")
    return value


def _str_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SettingError(f"expected a list of strings, got {value!r}")
    return tuple(value)


def _str_map(value: Any) -> Mapping[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str | int | float) for v in value.values()):
        raise SettingError(f"expected a map of strings, got {value!r}")
    return MappingProxyType({str(k): str(v) for k, v in value.items()})


def _verification_mode(value: Any) -> str:
    if value not in VERIFICATION_MODES:
        raise SettingError(f"expected one of {', '.join(VERIFICATION_MODES)}, got {value!r}")
    return value


def _int_range(minimum: int, maximum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise SettingError(f"expected a whole number from {minimum} to {maximum}, got {value!r}")
        return value

    return parse


def _url(value: Any) -> str:
    value = _str(value)
    if not re.match(r"^https?://[^/\s]+", value):
        raise SettingError(f"expected an http(s) URL, got {value!r}")
    return value.rstrip("/")


_RESERVED_PRECONFIGURED_IDS = ("", "__proto__", "constructor")
_PRECONFIGURED_KEYS = {"actionTypeId", "name", "config", "secrets", "exposeConfig", "description"}


def _preconfigured(value: Any) -> Mapping[str, Mapping[str, Any]]:
    if not isinstance(value, dict):
        raise SettingError(f"expected a map of connector id to connector, got {value!r}")
    result = {}
    for connector_id, body in value.items():
        connector_id = str(connector_id)
        if connector_id in _RESERVED_PRECONFIGURED_IDS:
            raise SettingError(f'invalid preconfigured action id "{connector_id}"')
        if not isinstance(body, dict):
            raise SettingError(f"[{connector_id}]: expected a map, got {body!r}")
        unknown = sorted(set(body) - _PRECONFIGURED_KEYS)
        if unknown:
            raise SettingError(f"[{connector_id}.{unknown[0]}]: definition for this key is missing")
        for required in ("actionTypeId", "name"):
            if not isinstance(body.get(required), str) or not body[required]:
                raise SettingError(
                    f"[{connector_id}.{required}]: expected value of type [string] but got "
                    f"[{_type_name(body.get(required))}]"
                )
        for optional_map in ("config", "secrets"):
            if not isinstance(body.get(optional_map, {}), dict):
                raise SettingError(f"[{connector_id}.{optional_map}]: expected value of type [object]")
        result[connector_id] = MappingProxyType(
            {
                "actionTypeId": body["actionTypeId"],
                "name": body["name"],
                "config": dict(body.get("config") or {}),
                "secrets": dict(body.get("secrets") or {}),
                "exposeConfig": _bool(body.get("exposeConfig", False)),
            }
        )
    return MappingProxyType(result)


_CUSTOM_HOST_KEYS = {
    "url",
    "smtp.ignoreTLS",
    "smtp.requireTLS",
    "ssl.verificationMode",
    "ssl.certificateAuthoritiesFiles",
    "ssl.certificateAuthoritiesData",
    "ssl.rejectUnauthorized",
}


def _custom_host_settings(value: Any) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(value, list):
        raise SettingError(f"expected a list of host settings, got {value!r}")
    result = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise SettingError(f"[{index}]: expected a map, got {entry!r}")
        flat = _flatten_free(entry)
        unknown = sorted(set(flat) - _CUSTOM_HOST_KEYS)
        if unknown:
            raise SettingError(f"[{index}.{unknown[0]}]: definition for this key is missing")
        url = flat.get("url")
        match = re.match(r"^(https|smtp)://([^/:?#]+)(?::(\d+))?/?\Z", str(url or ""))
        if not match:
            raise SettingError(
                f"[{index}.url]: expected https://host[:port] or smtp://host[:port] with no path, got {url!r}"
            )
        scheme, host, port = match.groups()
        port = int(port or (443 if scheme == "https" else 25))
        if flat.get("smtp.ignoreTLS") and flat.get("smtp.requireTLS"):
            raise SettingError(f"[{index}]: smtp.ignoreTLS and smtp.requireTLS cannot both be true")
        ca_files = flat.get("ssl.certificateAuthoritiesFiles", ())
        entry_value = {
            "url": f"{scheme}://{host.lower()}:{port}",
            "smtp.ignoreTLS": _bool(flat.get("smtp.ignoreTLS", False)),
            "smtp.requireTLS": _bool(flat.get("smtp.requireTLS", False)),
            "ssl.verificationMode": _verification_mode(flat.get("ssl.verificationMode", "full")),
            "ssl.certificateAuthoritiesFiles": _str_list(ca_files) if ca_files else (),
            "ssl.certificateAuthoritiesData": flat.get("ssl.certificateAuthoritiesData"),
        }
        if flat.get("ssl.rejectUnauthorized") is False and "ssl.verificationMode" not in flat:
            entry_value["ssl.verificationMode"] = "none"
        result.append(MappingProxyType(entry_value))
    return tuple(result)


def _type_overrides(value: Any) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(value, list):
        raise SettingError(f"expected a list of {{id, maxAttempts}}, got {value!r}")
    result = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise SettingError(f"[{index}.id]: expected value of type [string]")
        unknown = sorted(set(entry) - {"id", "maxAttempts", "max"})
        if unknown:
            raise SettingError(f"[{index}.{unknown[0]}]: definition for this key is missing")
        parsed = {"id": entry["id"]}
        if "maxAttempts" in entry:
            parsed["maxAttempts"] = _int_range(1, 10)(entry["maxAttempts"])
        if "max" in entry:
            parsed["max"] = _int_range(1, 100000)(entry["max"])
        result.append(MappingProxyType(parsed))
    return tuple(result)


_RULE_DURATION = re.compile(r"^[1-9][0-9]*[smhd]\Z")


def _rule_duration(value: Any) -> str:
    """Kibana's alerting durations (validateDurationSchema): `30s`, `5m`, `1h`, `1d`, kept as written
    (the rule type's `rule_task_timeout` and the timeout messages show them so)."""
    if isinstance(value, str) and _RULE_DURATION.match(value):
        return value
    raise SettingError(f"string is not a valid duration: {value}")


def _rule_type_timeouts(value: Any) -> tuple[Mapping[str, Any], ...]:
    """`xpack.alerting.rules.run.ruleTypeOverrides`: `[{id, timeout}]`."""
    if not isinstance(value, list):
        raise SettingError(f"expected a list of {{id, timeout}}, got {value!r}")
    result = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise SettingError(f"[{index}.id]: expected value of type [string]")
        unknown = sorted(set(entry) - {"id", "timeout"})
        if unknown:
            raise SettingError(f"[{index}.{unknown[0]}]: definition for this key is missing")
        try:
            timeout = _rule_duration(entry.get("timeout"))
        except SettingError as exc:
            raise SettingError(f"[{index}.timeout]: {exc}") from None
        result.append(MappingProxyType({"id": entry["id"], "timeout": timeout}))
    return tuple(result)


def _private_addresses(value: Any) -> bool | tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """`true`/`false`, or a list of CIDR blocks that may be reached although they are not public."""
    if isinstance(value, bool):
        return value
    try:
        return tuple(ipaddress.ip_network(block, strict=False) for block in _str_list(value))
    except ValueError as exc:
        raise SettingError(f"expected true, false or a list of CIDR blocks: {exc}") from None


def _cidr_list(value: Any) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(block, strict=False) for block in _str_list(value))
    except ValueError as exc:
        raise SettingError(f"expected a list of CIDR blocks: {exc}") from None


def _service_urls(value: Any) -> Mapping[str, str]:
    if not isinstance(value, dict):
        raise SettingError(f"expected a map of connector type id to URL, got {value!r}")
    return MappingProxyType({str(type_id): _url(url) for type_id, url in value.items()})


def _rate_limits(value: Any) -> Mapping[str, Mapping[str, Any]]:
    """Per-type limits: `{".email": {"limit": 100, "lookbackWindow": "1m"}}`."""
    if not isinstance(value, dict):
        raise SettingError(f"expected a map of connector type id to {{limit, lookbackWindow}}, got {value!r}")
    result = {}
    for type_id, entry in value.items():
        if not isinstance(entry, dict) or set(entry) - {"limit", "lookbackWindow"}:
            raise SettingError(f"[{type_id}]: expected {{limit, lookbackWindow}}, got {entry!r}")
        result[str(type_id)] = MappingProxyType(
            {
                "limit": _int_range(1, 10**9)(entry.get("limit")),
                "lookbackWindow": parse_duration(entry.get("lookbackWindow", "1m")),
            }
        )
    return MappingProxyType(result)


def _email_services(value: Any) -> Mapping[str, Mapping[str, Any]]:
    """`{gmail: {host, port, secure}}`: where a well-known email service is reached (tests, relays)."""
    if not isinstance(value, dict):
        raise SettingError(f"expected a map of email service to {{host, port, secure}}, got {value!r}")
    result = {}
    for service, entry in value.items():
        if not isinstance(entry, dict) or set(entry) - {"host", "port", "secure"}:
            raise SettingError(f"[{service}]: expected {{host, port, secure}}, got {entry!r}")
        result[str(service)] = MappingProxyType(
            {
                "host": _str(entry.get("host")),
                "port": _int_range(1, 65535)(entry.get("port")),
                "secure": _bool(entry.get("secure", False)),
            }
        )
    return MappingProxyType(result)


def _anything(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Setting:
    parse: Callable[[Any], Any]
    default: Any
    help: str = ""


# Every key the file may hold, with Kibana's defaults. A key not here is a start-up error.
SETTINGS: dict[str, Setting] = {
    "xpack.actions.allowedHosts": Setting(_str_list, ("*",), "hostnames outbound requests may reach"),
    "xpack.actions.enabledActionTypes": Setting(_str_list, ("*",), "connector types that may run"),
    "xpack.actions.preconfigured": Setting(_preconfigured, MappingProxyType({})),
    "xpack.actions.preconfiguredAlertHistoryEsIndex": Setting(_bool, False),
    "xpack.actions.proxyUrl": Setting(_str, None),
    "xpack.actions.proxyHeaders": Setting(_str_map, MappingProxyType({})),
    "xpack.actions.proxyBypassHosts": Setting(_str_list, None),
    "xpack.actions.proxyOnlyHosts": Setting(_str_list, None),
    "xpack.actions.ssl.verificationMode": Setting(_verification_mode, "full"),
    "xpack.actions.ssl.proxyVerificationMode": Setting(_verification_mode, "full"),
    "xpack.actions.rejectUnauthorized": Setting(_bool, True, "deprecated: use ssl.verificationMode"),
    "xpack.actions.proxyRejectUnauthorizedCertificates": Setting(_bool, True, "deprecated"),
    "xpack.actions.customHostSettings": Setting(_custom_host_settings, ()),
    "xpack.actions.maxResponseContentLength": Setting(parse_byte_size, 1024 * 1024),
    "xpack.actions.responseTimeout": Setting(parse_duration, 60.0),
    "xpack.actions.email.domain_allowlist": Setting(_str_list, None),
    # Kibana: schema.number({min: 0, max: 25MB}); longer email bodies are cut with a warning.
    "xpack.actions.email.maximum_body_length": Setting(_int_range(0, 25 * 1024 * 1024), 25 * 1024 * 1024),
    "xpack.actions.queued.max": Setting(_int_range(1, 10**12), 1_000_000),
    "xpack.actions.run.maxAttempts": Setting(_int_range(1, 10), None),
    "xpack.actions.run.connectorTypeOverrides": Setting(_type_overrides, ()),
    "xpack.actions.enableFooterInEmail": Setting(_bool, True),
    "xpack.actions.microsoftGraphApiUrl": Setting(_url, "https://graph.microsoft.com/v1.0"),
    "xpack.actions.microsoftGraphApiScope": Setting(_str, "https://graph.microsoft.com/.default"),
    "xpack.actions.microsoftExchangeUrl": Setting(_url, "https://login.microsoftonline.com"),
    "xpack.actions.webhook.ssl.pfx.enabled": Setting(_bool, True),
    "xpack.actions.cleanupFailedExecutionsTask.enabled": Setting(_bool, True),
    "xpack.actions.cleanupFailedExecutionsTask.cleanupInterval": Setting(parse_duration, 300.0),
    "xpack.actions.cleanupFailedExecutionsTask.idleInterval": Setting(parse_duration, 3600.0),
    "xpack.actions.cleanupFailedExecutionsTask.pageSize": Setting(_int_range(1, 10000), 100),
    "xpack.actions.rateLimiter": Setting(_rate_limits, MappingProxyType({})),
    "xpack.encryptedSavedObjects.encryptionKey": Setting(
        _str, None, "ignored: use CONNECTORS_ENCRYPTION_KEYS"
    ),
    "xpack.alerting.rules.run.actions.max": Setting(_int_range(1, 100000), 100000),
    "xpack.alerting.rules.run.actions.connectorTypeOverrides": Setting(_type_overrides, ()),
    # Our extensions.
    "connectors.network.allowPrivateAddresses": Setting(_private_addresses, False),
    "connectors.serviceUrls": Setting(_service_urls, MappingProxyType({})),
    "connectors.rateLimits": Setting(_rate_limits, MappingProxyType({})),
    "connectors.eventLog.retention": Setting(parse_duration, 90 * 86400.0),
    "connectors.metrics.token": Setting(_str, None, "bearer token GET /metrics requires (unset: none)"),
    "connectors.kibanaBaseUrl": Setting(_url, None),
    # Kibana's own names: the public URL (OAuth redirect URI) and anonymous `/api/status`.
    "server.publicBaseUrl": Setting(_url, None, "this service's public URL (OAuth redirect URI)"),
    "status.allowAnonymous": Setting(_bool, False, "unauthenticated /api/status gets the full body"),
    "connectors.worker.concurrency": Setting(_int_range(1, 4096), 256),
    # Kibana's own saved-objects limits (import/export), under Kibana's names.
    "savedObjects.maxImportPayloadBytes": Setting(parse_byte_size, 26214400, "largest import file"),
    "savedObjects.maxImportExportSize": Setting(_int_range(1, 10**7), 10000, "most objects per file"),
    "connectors.email.services": Setting(_email_services, MappingProxyType({})),
    "connectors.email.fixedTestMessage": Setting(_bool, True),
    "xpack.actions.email.services.enabled": Setting(_str_list, ("*",), "email services connectors may use"),
    "xpack.alerting.rules.run.alerts.max": Setting(_int_range(1, 100000), 1000),
    "xpack.alerting.rules.minimumScheduleInterval.value": Setting(_rule_duration, "1m"),
    "xpack.alerting.rules.minimumScheduleInterval.enforce": Setting(
        _bool, False, "refuse rules scheduled more often than minimumScheduleInterval.value"
    ),
    "xpack.alerting.rules.run.timeout": Setting(
        _rule_duration, None, "rule run timeout (default: the type's, 5m)"
    ),
    "xpack.alerting.rules.run.ruleTypeOverrides": Setting(_rule_type_timeouts, ()),
    "connectors.actions.runTimeout": Setting(parse_duration, 300.0, "Kibana's 5m action task timeout"),
    "connectors.actions.firstRetryDelay": Setting(parse_duration, 30.0, "delay before the first retry"),
    "connectors.actions.backoffBase": Setting(parse_duration, 300.0, "randomized backoff base (x2 per try)"),
    "connectors.actions.backoffMax": Setting(parse_duration, 3600.0, "backoff cap"),
    "connectors.actions.pollInterval": Setting(parse_duration, 0.5, "how often workers look for due work"),
    "connectors.actions.lostTaskGrace": Setting(
        parse_duration, 15.0, "queued runs older than this are picked up by polling"
    ),
    # Login rate limiting (admin login, API Basic and ApiKey failures): see docs/security.md.
    "connectors.security.login.maxFailures": Setting(
        _int_range(1, 10000), 5, "failures per username (or API key id) and client address before a lockout"
    ),
    "connectors.security.login.maxFailuresPerAddress": Setting(
        _int_range(1, 1000000), 50, "failures from one client address, any username, before a lockout"
    ),
    "connectors.security.login.window": Setting(parse_duration, 900.0, "how long failures are counted"),
    "connectors.security.login.lockout": Setting(parse_duration, 900.0, "how long a lockout lasts"),
    "connectors.security.trustedProxies": Setting(
        _cidr_list, (), "reverse proxies whose X-Forwarded-For names the client (login limits)"
    ),
    "connectors.security.forwardedForHops": Setting(
        _int_range(1, 10), 1, "trusted proxies in a row, each appending to X-Forwarded-For"
    ),
}

# Keys whose value is itself a map: flattening stops there.
_MAP_VALUED = {
    key
    for key, setting in SETTINGS.items()
    if setting.parse in (_preconfigured, _str_map, _service_urls, _rate_limits)
}


def _type_name(value: Any) -> str:
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    return "string"


def _flatten_free(tree: dict, prefix: str = "") -> dict[str, Any]:
    """Flatten every nested map to dotted keys (for small sub-structures with no map values)."""
    flat = {}
    for key, value in tree.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten_free(value, f"{full}."))
        else:
            flat[full] = value
    return flat


def _flatten(tree: Any, prefix: str, into: dict[str, Any], source: str) -> None:
    if not isinstance(tree, dict):
        raise ImproperlyConfigured(f"{source}: expected a map at {prefix.rstrip('.') or 'the top level'}")
    for raw_key, value in tree.items():
        full = f"{prefix}{raw_key}"
        if full in SETTINGS or not isinstance(value, dict) or full in _MAP_VALUED:
            if full in into:
                raise ImproperlyConfigured(f"{source}: key '{full}' is set twice")
            into[full] = value
        else:
            _flatten(value, f"{full}.", into, source)


@dataclass(frozen=True)
class KibanaConfig:
    """The parsed settings file: every known key with its value or Kibana's default."""

    values: Mapping[str, Any]
    source: str = "<defaults>"

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str) -> Any:
        if key not in SETTINGS:
            raise KeyError(f"unknown setting {key!r}")
        return self.values[key]

    def service_url(self, type_id: str, default: str) -> str:
        """The base URL of a fixed service, overridable per type under `connectors.serviceUrls`."""
        return self.values["connectors.serviceUrls"].get(type_id, default)

    def replace(self, **overrides: Any) -> "KibanaConfig":
        """A copy with some raw values replaced (dotted keys passed as a dict: `replace(**{"a.b": 1})`)."""
        raw = {key: overrides[key] for key in overrides}
        return parse_config_dict(raw, base=self, source=f"{self.source} (overridden)")


def parse_config_dict(raw: Any, *, base: KibanaConfig | None = None, source: str = "<dict>") -> KibanaConfig:
    flat: dict[str, Any] = {}
    if raw is not None:
        _flatten(raw, "", flat, source)
    values = dict(base.values) if base else {key: s.default for key, s in SETTINGS.items()}
    for key, value in flat.items():
        if key not in SETTINGS:
            close = difflib.get_close_matches(key, SETTINGS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ImproperlyConfigured(f"{source}: unknown setting '{key}'{hint}")
        try:
            values[key] = SETTINGS[key].parse(value)
        except SettingError as exc:
            raise ImproperlyConfigured(f"{source}: invalid value for '{key}': {exc}") from None
    if values["xpack.actions.proxyBypassHosts"] and values["xpack.actions.proxyOnlyHosts"]:
        # Kibana ignores proxyOnlyHosts with a warning; we say so loudly at start-up instead.
        raise ImproperlyConfigured(
            f"{source}: 'xpack.actions.proxyBypassHosts' and 'xpack.actions.proxyOnlyHosts' cannot both be set"
        )
    return KibanaConfig(values=MappingProxyType(values), source=source)


def load_config_file(path: str | None) -> KibanaConfig:
    if not path:
        return parse_config_dict(None, source="<defaults>")
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except OSError as exc:
        raise ImproperlyConfigured(f"CONNECTORS_CONFIG: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ImproperlyConfigured(f"CONNECTORS_CONFIG: {path} is not valid YAML: {exc}") from None
    return parse_config_dict(raw or {}, source=path)
