"""Where the bot may download an image from, on the image API's word.

The API answers with URLs and the bot fetches them. A provider that is compromised,
or a proxy in between, could name any address: the bot's own metrics port, a cloud
metadata service at 169.254.169.254, a database on the LAN. So a URL is fetched only
if it stays on hosts the owner trusts:

* the configured API's own origin (scheme, host and port of ``SIRAYA_BASE_URL``), or
* a host the owner lists in ``SIRAYA_IMAGE_HOSTS`` (default: the provider's resource
  host), on the scheme's default port unless listed as ``host:port``;
* https only, unless the API itself is plain http (a local emulator or proxy);
* no ``user:password@`` in the URL: credentials are never taken from the provider;
* no loopback, private, link-local or otherwise non-public address, unless the API
  itself is configured on an address of that kind (by IP, or as ``localhost``).

The last rule must hold for what a name *resolves to*, not only for IP literals, or a
name that rebinds to 127.0.0.1 would pass: :class:`GuardedResolver` sits in the
HTTP session's connector and refuses such answers before any connection is made.
aiohttp connects to exactly the addresses the resolver returns, so there is no gap
between the check and the connection. Redirects are followed by the client hop by
hop, each hop checked here.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from enum import StrEnum
from typing import Final

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

__all__ = [
    "DEFAULT_IMAGE_HOSTS",
    "AddressRefused",
    "GuardedResolver",
    "ImageOrigins",
    "OriginRefused",
    "parse_host_entry",
]

DEFAULT_IMAGE_HOSTS: Final = ("resource.siraya.pro",)
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


class Reach(StrEnum):
    """What kind of network an address is on; only PUBLIC is allowed by default."""

    PUBLIC = "public"
    LOOPBACK = "loopback"
    PRIVATE = "private"
    LINK_LOCAL = "link-local"
    OTHER = "reserved"


def reach_of(address: str) -> Reach:
    """Classify an IP address (v4, v6, v4-mapped v6); raises ValueError if it is not one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_unspecified:  # 0.0.0.0 reaches this machine too
        return Reach.LOOPBACK
    if ip.is_link_local:
        return Reach.LINK_LOCAL
    if ip.is_multicast or ip.is_reserved:
        return Reach.OTHER
    if ip.is_private or not ip.is_global:  # RFC 1918, ULA, CGNAT, documentation ranges …
        return Reach.PRIVATE
    return Reach.PUBLIC


class OriginRefused(Exception):
    """A URL the bot will not fetch. ``host`` is safe to log (no path, query or userinfo)."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"refused to download from {host}: {reason}")
        self.host = host
        self.reason = reason


class AddressRefused(OSError):
    """Raised by :class:`GuardedResolver`; aiohttp wraps it in a ClientConnectorDNSError."""

    def __init__(self, host: str, reach: Reach) -> None:
        super().__init__(f"{host} resolves to a {reach.value} address")
        self.host = host
        self.reach = reach


def _normal_host(host: str) -> str:
    return host.lower().rstrip(".")


def parse_host_entry(entry: str) -> tuple[str, int | None]:
    """``host`` or ``host:port`` (IPv6 in brackets) → (normalised host, port or None).

    Raises ValueError with a sentence naming what is wrong.
    """
    entry = entry.strip()
    if not entry or "/" in entry or "@" in entry or any(ch.isspace() for ch in entry):
        raise ValueError(f"{entry!r} is not a host name (write resource.example.com or host:port)")
    try:
        parsed = URL(f"//{entry}")
        port = parsed.explicit_port
    except ValueError:
        raise ValueError(f"{entry!r} is not a host name or host:port") from None
    host = parsed.host
    if not host:
        raise ValueError(f"{entry!r} is not a host name or host:port")
    return _normal_host(host), port


class ImageOrigins:
    """The download policy for one configured API (see the module docstring)."""

    def __init__(self, api_base_url: str, hosts: Iterable[str] = DEFAULT_IMAGE_HOSTS) -> None:
        api = URL(api_base_url)
        if not api.is_absolute() or api.scheme not in _DEFAULT_PORTS or not api.host:
            raise ValueError(f"api_base_url must be an absolute http(s) URL, got {api_base_url!r}")
        self._api_host = _normal_host(api.host)
        self._api_origin = (api.scheme, self._api_host, api.port)
        self._schemes = frozenset({"https"} if api.scheme == "https" else {"https", "http"})
        self._hosts = frozenset(parse_host_entry(entry) for entry in hosts)
        self._reaches = frozenset({Reach.PUBLIC, _reach_of_host(self._api_host)})

    @property
    def api_host(self) -> str:
        return self._api_host

    def describe(self) -> str:
        """The allowed hosts, for log lines an owner reads."""
        listed = sorted(f"{h}:{p}" if p else h for h, p in self._hosts)
        return ", ".join([self._api_host, *listed])

    def check(self, url: URL) -> None:
        """Raise :class:`OriginRefused` unless ``url`` may be fetched."""
        host = _normal_host(url.host or "")
        shown = host or "(no host)"
        if not url.is_absolute() or not host:
            raise OriginRefused(shown, "not an absolute URL")
        if url.scheme not in self._schemes:
            raise OriginRefused(shown, f"{url.scheme or 'no'} scheme (https only)")
        if url.user is not None or url.password is not None:
            raise OriginRefused(shown, "the URL carries credentials")
        if (url.scheme, host, url.port) != self._api_origin and not self._listed(host, url):
            raise OriginRefused(
                shown, "neither the API's own origin nor listed in SIRAYA_IMAGE_HOSTS"
            )
        reach = _reach_of_host(host)
        if reach not in self._reaches:
            raise OriginRefused(shown, f"a {reach.value} address")

    def _listed(self, host: str, url: URL) -> bool:
        port = url.port
        default = _DEFAULT_PORTS.get(url.scheme)
        return any(h == host and (p or default) == port for h, p in self._hosts)

    def check_resolved(self, host: str, addresses: Iterable[str]) -> None:
        """Raise :class:`AddressRefused` if a name (other than the API's) resolves badly.

        Every address must pass, not just one: a mixed answer is how rebinding starts.
        """
        if _normal_host(host) == self._api_host:
            return  # the owner configured it; wherever it lives is where the API is
        for address in addresses:
            reach = reach_of(address)
            if reach not in self._reaches:
                raise AddressRefused(host, reach)


def _reach_of_host(host: str) -> Reach:
    """The reach of an IP literal or ``localhost``; a name is PUBLIC until resolved."""
    if host == "localhost" or host.endswith(".localhost"):
        return Reach.LOOPBACK
    try:
        return reach_of(host.strip("[]"))
    except ValueError:
        return Reach.PUBLIC


class GuardedResolver(AbstractResolver):
    """A resolver that refuses names resolving where :class:`ImageOrigins` forbids.

    Installed in the session's connector by ``create_session``; wraps aiohttp's
    default resolver (``inner`` lets tests stand in a fake DNS).
    """

    def __init__(self, origins: ImageOrigins, inner: AbstractResolver | None = None) -> None:
        self._origins = origins
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        self._origins.check_resolved(host, (result["host"] for result in results))
        return results

    async def close(self) -> None:
        await self._inner.close()
