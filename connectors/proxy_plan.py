"""Which proxy one outbound call goes through: `xpack.actions.proxyUrl` with its bypass and only-lists,
headers and TLS mode (Kibana's getUseProxy). `connectors.http` and `connectors.smtp` apply the plan."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from connectors.settings_file import KibanaConfig


@dataclass(frozen=True)
class ProxyPlan:
    """The proxy one request goes through: URL, extra headers (sent on CONNECT) and its TLS mode."""

    url: str
    headers: tuple[tuple[str, str], ...] = ()
    verification_mode: str = "full"

    def __repr__(self) -> str:  # proxy headers may carry credentials
        return f"ProxyPlan({urlsplit(self.url).hostname!r})"


def proxy_applies(hostname: str, settings: KibanaConfig) -> bool:
    """Kibana's getUseProxy: bypass list first; else, with an only-list, only those hosts."""
    if not settings["xpack.actions.proxyUrl"]:
        return False
    hostname = (hostname or "").lower()
    bypass = settings["xpack.actions.proxyBypassHosts"]
    only = settings["xpack.actions.proxyOnlyHosts"]
    if bypass:  # Kibana ignores proxyOnlyHosts (with a warning) when both are set
        return hostname not in {h.lower() for h in bypass}
    if only:
        return hostname in {h.lower() for h in only}
    return True


def proxy_plan_for(url: str, settings: KibanaConfig) -> ProxyPlan | None:
    if not proxy_applies(urlsplit(url).hostname or "", settings):
        return None
    mode = settings["xpack.actions.ssl.proxyVerificationMode"]
    if settings["xpack.actions.proxyRejectUnauthorizedCertificates"] is False and mode == "full":
        mode = "none"
    return ProxyPlan(
        url=settings["xpack.actions.proxyUrl"],
        headers=tuple(sorted((settings["xpack.actions.proxyHeaders"] or {}).items())),
        verification_mode=mode,
    )


def proxies_for(url: str, settings: KibanaConfig) -> dict[str, str]:
    plan = proxy_plan_for(url, settings)
    if plan is None:
        return {}
    return {"http": plan.url, "https": plan.url}
