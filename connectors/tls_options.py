"""TLS settings for one outbound call: `xpack.actions.ssl.verificationMode`, then the target's
`customHostSettings` entry, then a connector's own override. `connectors.http` turns the result into
an SSL context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from connectors.settings_file import KibanaConfig


@dataclass(frozen=True)
class TLSOptions:
    """Per-request TLS: verification mode, extra CA PEM, and a client certificate."""

    verification_mode: str = "full"
    ca_pem: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    client_key_password: str | None = None

    def __repr__(self) -> str:
        return f"TLSOptions(verification_mode={self.verification_mode!r})"


def custom_host(url: str, settings: KibanaConfig) -> dict[str, Any] | None:
    """The customHostSettings entry for this target, matched on canonical `scheme://host:port`."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "smtp") or not parts.hostname:
        return None
    default_port = 443 if parts.scheme == "https" else 25
    key = f"{parts.scheme}://{parts.hostname.lower()}:{parts.port or default_port}"
    for entry in settings["xpack.actions.customHostSettings"]:
        if entry["url"] == key:
            return entry
    return None


def custom_host_ca_pem(entry: dict[str, Any]) -> str | None:
    """The extra CA certificates of one customHostSettings entry (files first, then inline data)."""
    parts: list[str] = []
    for path in entry["ssl.certificateAuthoritiesFiles"]:
        with open(path, encoding="utf-8") as handle:
            parts.append(handle.read())
    if entry["ssl.certificateAuthoritiesData"]:
        parts.append(entry["ssl.certificateAuthoritiesData"])
    return "\n".join(parts) or None


_custom_host = custom_host


def tls_for(url: str, settings: KibanaConfig, override: TLSOptions | None = None) -> TLSOptions:
    """Global ssl.verificationMode, then customHostSettings for this host, then a per-connector override."""
    mode = settings["xpack.actions.ssl.verificationMode"]
    if settings["xpack.actions.rejectUnauthorized"] is False and mode == "full":
        mode = "none"
    ca_parts: list[str] = []
    host = _custom_host(url, settings)
    if host:
        mode = host["ssl.verificationMode"]
        pem = custom_host_ca_pem(host)
        if pem:
            ca_parts.append(pem)
    options = TLSOptions(verification_mode=mode, ca_pem="\n".join(ca_parts) or None)
    if override:
        options = TLSOptions(
            verification_mode=override.verification_mode or options.verification_mode,
            ca_pem="\n".join(p for p in (options.ca_pem, override.ca_pem) if p) or None,
            client_cert_file=override.client_cert_file,
            client_key_file=override.client_key_file,
            client_key_password=override.client_key_password,
        )
    return options
