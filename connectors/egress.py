"""Where connectors may go: `xpack.actions.allowedHosts` on URLs and hostnames, and the address policy
(public addresses always; private, loopback, link-local and metadata ones only when
`connectors.network.allowPrivateAddresses` says so), checked on the *resolved* address.

`connectors.http` applies it at connect time (so DNS rebinding and redirects cannot slip through);
`connectors.smtp` applies it to mail servers.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urlsplit

from connectors.exceptions import ConnectorUnreachable, EgressDenied
from connectors.settings_file import KibanaConfig

PRIVATE_ADDRESSES_SETTING = "connectors.network.allowPrivateAddresses"


def hostname_allowed(hostname: str, settings: KibanaConfig) -> bool:
    allowed = settings["xpack.actions.allowedHosts"]
    return "*" in allowed or (hostname or "").lower() in {h.lower() for h in allowed}


def ensure_uri_allowed(url: str, settings: KibanaConfig) -> None:
    """Kibana's `ensureUriAllowed`, with its exact message."""
    hostname = urlsplit(url).hostname or ""
    if not hostname_allowed(hostname, settings):
        raise EgressDenied(f'target url "{url}" is not added to the Kibana config xpack.actions.allowedHosts')


def ensure_hostname_allowed(hostname: str, settings: KibanaConfig) -> None:
    if not hostname_allowed(hostname, settings):
        raise EgressDenied(
            f'target hostname "{hostname}" is not added to the Kibana config xpack.actions.allowedHosts'
        )


NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: never public
# Python 3.11's `is_global` calls these public: IPv4-compatible addresses (`::7f00:1`, deprecated by
# RFC 4291, can reach the IPv4 address through automatic tunnels) and deprecated site-local (RFC 3879).
NEVER_PUBLIC = (ipaddress.ip_network("::/96"), ipaddress.ip_network("fec0::/10"))


def _unmapped(address: ipaddress.IPv4Address | ipaddress.IPv6Address):
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address.sixtofour:
            return address.sixtofour
        if address in NAT64_WELL_KNOWN:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address in NAT64_LOCAL_USE:
            return ipaddress.IPv4Address("0.0.0.0")  # not public, whatever it embeds
    return address


def address_permitted(ip: str, settings: KibanaConfig) -> bool:
    """Public addresses always; others only when connectors.network.allowPrivateAddresses says so."""
    address = _unmapped(ipaddress.ip_address(ip.split("%", 1)[0]))
    if address.is_global and not address.is_multicast and not any(address in n for n in NEVER_PUBLIC):
        return True
    policy = settings[PRIVATE_ADDRESSES_SETTING]
    if policy is True:
        return True
    if policy is False:
        return False
    return any(address in network for network in policy)


def egress_denied_message(hostname: str, ip: str) -> str:
    return (
        f'target "{hostname}" resolves to {ip}, which is not a public address; connections to private, '
        f"loopback, link-local and metadata addresses are refused unless the setting "
        f"{PRIVATE_ADDRESSES_SETTING} allows them"
    )


def resolve_permitted(host: str, port: int, settings: KibanaConfig) -> list[tuple]:
    """getaddrinfo, keeping only the addresses the egress policy permits (raises if none)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ConnectorUnreachable(
            "request failed", service_message=f"[ENOTFOUND] getaddrinfo ENOTFOUND {host}"
        ) from None
    permitted = [info for info in infos if address_permitted(info[4][0], settings)]
    if not permitted:
        raise EgressDenied(egress_denied_message(host, infos[0][4][0]))
    return permitted


def ensure_proxied_target_permitted(url: str, settings: KibanaConfig) -> None:
    parts = urlsplit(url)
    ensure_proxied_host_permitted(parts.hostname or "", parts.port or 80, settings)


def ensure_proxied_host_permitted(host: str, port: int, settings: KibanaConfig) -> None:
    """Through a proxy we never connect to the target ourselves, and the proxy would reach (and
    resolve) anything: the target is resolved and checked here before anything goes to the proxy.
    Every address it resolves to must be permitted (we cannot choose which one the proxy uses), and
    a name that does not resolve here is refused: its address cannot be checked."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        infos = []
    if not infos:
        raise EgressDenied(
            f'target "{host}" does not resolve here, so its address cannot be checked; through '
            f"xpack.actions.proxyUrl only targets that resolve to permitted addresses are reached"
        )
    for info in infos:
        if not address_permitted(info[4][0], settings):
            raise EgressDenied(egress_denied_message(host, info[4][0]))


def connect_within(addresses: list[tuple], timeout: float | None, *, make_socket=None, options=()):
    """Connect to the first address that answers, with one deadline for the whole connect phase
    (a name with many unanswering addresses must not multiply the timeout). The socket comes back
    with the full `timeout` for its reads."""
    make_socket = make_socket or socket.socket
    deadline = None if timeout is None else time.monotonic() + timeout
    last_error: OSError | None = None
    for family, socktype, proto, _name, address in addresses:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            break
        sock = make_socket(family, socktype, proto)
        try:
            for option in options:
                sock.setsockopt(*option)
            sock.settimeout(remaining)
            sock.connect(address)
            sock.settimeout(timeout)
            return sock
        except OSError as exc:
            sock.close()
            last_error = exc
    raise last_error or TimeoutError("connect timed out")
