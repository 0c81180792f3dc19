"""Which HTTP/S delivery targets a shared deployment allows (``--deny-private-targets``):
public addresses only, so a subscriber cannot make Postroom POST to its own loopback
interface, the host's private network or cloud metadata endpoints. Names are resolved at
delivery time and every address they resolve to must be public."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


def is_public(address: str) -> bool:
    """Whether an IP address is globally routable (not loopback, private, link-local,
    reserved, multicast or unspecified); IPv4-mapped IPv6 addresses count as their IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def literal_host(url: str) -> str | None:
    """The host of ``url`` if it is an IP literal, else None."""
    try:
        host = urlsplit(url).hostname or ""
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return host


async def resolves_public(url: str) -> bool:
    """Whether every address ``url``'s host resolves to is public (False if it does not
    resolve)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return False
    if not host:
        return False
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(is_public(a) for a in addresses)
