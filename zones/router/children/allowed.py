"""Where this zone's children may be: `[router] allowed_children`, CIDRs and host patterns.

A child's URL is allowed when its host is an address inside one of the CIDRs, a
name that one of the host patterns matches (`zones.example.com`, or
`*.dc.example.com` for any name below `dc.example.com`), or a name that resolves to
an address inside one of the CIDRs. Checked twice:

- when a child is registered or changed (zone-add, `PUT /zones/{id}`): a 400 naming
  `zone.api_url`, nothing stored;
- on every connection this zone makes: `AllowedResolver` lets the node's client
  connect only to the allowed addresses a name resolves to (so a child's name that
  comes to resolve elsewhere is not contacted at all), and `ChildClient` refuses a
  child at an address outside the CIDRs before connecting. The hosts of the issuers
  this zone trusts are exempt: the zone fetches their keys and revocations, and they
  are usually its parents, not its children.

No `allowed_children` (the default): anywhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from zones.errors import BadRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class NotAllowed(OSError):
    """A child's address is outside `router.allowed_children` (an OSError, so aiohttp reports
    it as a connection that could not be made)."""


@dataclass(frozen=True)
class AllowedChildren:
    """The rules of `router.allowed_children`, already validated (zones.node.fields)."""

    networks: tuple[Network, ...]
    patterns: tuple[str, ...]

    @classmethod
    def of(cls, rules: Iterable[str]) -> AllowedChildren:
        networks: list[Network] = []
        patterns: list[str] = []
        for rule in rules:
            try:
                networks.append(ipaddress.ip_network(rule))
            except ValueError:
                patterns.append(rule)
        return cls(tuple(networks), tuple(patterns))

    def permits_address(self, address: str) -> bool:
        try:
            parsed = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        return any(parsed.version == net.version and parsed in net for net in self.networks)

    def names(self, host: str) -> bool:
        """Whether a host pattern names `host` (a name, not an address)."""
        host = host.lower().rstrip(".")
        for pattern in self.patterns:
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                    return True
            elif host == pattern:
                return True
        return False

    def refusal(self, host: str, addresses: list[str]) -> str | None:
        """Why `host`, resolving to `addresses`, may not be a child; None when it may."""
        if is_address(host):
            if self.permits_address(host):
                return None
            return f"{host} is outside router.allowed_children"
        if self.names(host) or any(self.permits_address(a) for a in addresses):
            return None
        shown = ", ".join(addresses) or "no address"
        return f"{host} resolves to {shown}, outside router.allowed_children"

    async def check_url(self, url: str, field: str = "zone.api_url") -> None:
        """A 400 naming `field` when `url`'s host may not be a child."""
        host = host_of(url)
        addresses = [] if is_address(host) or self.names(host) else await resolve(host)
        reason = self.refusal(host, addresses)
        if reason is not None:
            raise BadRequest(f"{field}: {reason}")

    def check_before_connecting(self, url: str) -> None:
        """Refuse, before any connection, a child at an address outside the CIDRs (names are
        filtered by the resolver as they resolve)."""
        host = host_of(url)
        if is_address(host) and not self.permits_address(host):
            raise NotAllowed(f"{host} is outside router.allowed_children")


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


async def resolve(host: str) -> list[str]:
    """The addresses `host` resolves to now (none when it does not resolve)."""
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):  # not resolvable, or not a name IDNA takes
        return []
    return sorted({str(entry[4][0]) for entry in found})


class AllowedResolver(AbstractResolver):
    """The node's resolver: names resolve only to allowed addresses, except the names a host
    pattern allows and the hosts of trusted issuers."""

    def __init__(self, allowed: AllowedChildren, exempt_hosts: frozenset[str]) -> None:
        self._allowed = allowed
        self._exempt = exempt_hosts
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        if host.lower() in self._exempt or self._allowed.names(host):
            return found
        kept = [entry for entry in found if self._allowed.permits_address(entry["host"])]
        if not kept:
            addresses = sorted({entry["host"] for entry in found})
            reason = self._allowed.refusal(host, addresses)
            raise NotAllowed(reason or f"{host} is outside router.allowed_children")
        return kept

    async def close(self) -> None:
        await self._resolver.close()


def allowed_of(rules: tuple[str, ...] | None) -> AllowedChildren | None:
    return None if rules is None else AllowedChildren.of(rules)


def guarded_connector(
    rules: tuple[str, ...] | None, issuers: Iterable[str], **options: Any
) -> aiohttp.TCPConnector:
    """The connector of a node's client session: with `rules`, names resolve only to the
    addresses children may be at (the trusted issuers' hosts exempt)."""
    allowed = allowed_of(rules)
    if allowed is None:
        return aiohttp.TCPConnector(**options)
    exempt = frozenset(host_of(url) for url in issuers)
    return aiohttp.TCPConnector(resolver=AllowedResolver(allowed, exempt), **options)
