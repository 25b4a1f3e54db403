"""Where a webhook may be sent: the address rule, checked at registration and before
every attempt (DNS answers change).

A URL's host is resolved (``getaddrinfo`` in a thread, bounded in time) and every
address it resolves to must be public. Refused: private, loopback, link-local,
multicast, reserved and unspecified addresses, and anything else that is not globally
routable (shared 100.64.0.0/10, documentation ranges, ...), also when an IPv4 address
hides inside an IPv6 one (mapped, 6to4, Teredo). One refused address refuses the URL,
so a name cannot mix a public address with an internal one.

The worker connects to the address it checked, not to the answer of a second lookup
(``Target.address``), so a DNS answer that changes between the check and the
connection cannot send a request inside the network (DNS rebinding).

``SLOTBOOK_WEBHOOK_ALLOW_PRIVATE_ADDRESSES`` turns the rule off (development, tests, an
internal receiver): nothing is resolved in advance then.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# The kinds of address refused, in the order a refusal names them.
_REFUSED_KINDS = ("unspecified", "loopback", "link_local", "multicast", "reserved", "private")


class AddressRefused(Exception):
    """The URL's host is, or resolves to, an address webhooks may not go to."""


class UnresolvableHost(Exception):
    """The URL's host has no address now (it may have one later)."""


@dataclass(frozen=True)
class Target:
    """Where one request goes: the URL, and the checked address to connect to (None
    when private addresses are allowed and the HTTP client resolves the name itself)."""

    url: httpx.URL
    address: IPAddress | None


def lookup(host: str, port: int) -> list[str]:
    """The addresses a host name resolves to (blocking; run in a thread). Tests replace
    this function to pretend a name resolves somewhere."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def refusal(address: IPAddress) -> str | None:
    """Why webhooks may not go to ``address`` ("private", "loopback", ...), or None."""
    candidates: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d
            candidates = [address.ipv4_mapped]
        else:
            embedded = [address.sixtofour, *(address.teredo or ())]
            candidates.extend(item for item in embedded if item is not None)
    for candidate in candidates:
        for kind in _REFUSED_KINDS:
            if getattr(candidate, f"is_{kind}"):
                return kind.replace("_", "-")
        if not candidate.is_global:
            return "non-public"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _parse(address: str) -> IPAddress | None:
    # A link-local IPv6 answer may carry its zone ("fe80::1%eth0").
    return _literal(address.split("%", 1)[0])


async def resolve(host: str, port: int, wait_seconds: float) -> list[IPAddress]:
    """``host``'s addresses: itself when it is an IP address, else what DNS answers."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        answers = await asyncio.wait_for(asyncio.to_thread(lookup, host, port), wait_seconds)
    except TimeoutError:
        raise UnresolvableHost(f"{host}: no DNS answer within {wait_seconds:g} s") from None
    except (OSError, UnicodeError, ValueError) as exc:
        raise UnresolvableHost(f"{host}: {exc}") from None
    addresses: list[IPAddress] = []
    for answer in answers:
        parsed = _parse(answer)
        if parsed is not None and parsed not in addresses:
            addresses.append(parsed)
    if not addresses:
        raise UnresolvableHost(f"{host}: no address")
    return addresses


async def check_target(url: httpx.URL, *, allow_private: bool, wait_seconds: float) -> Target:
    """Where a request to ``url`` may go; ``AddressRefused`` when the rule forbids it,
    ``UnresolvableHost`` when the name has no address now."""
    if allow_private:
        return Target(url, None)
    host = url.raw_host.decode("ascii", "replace")
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = await resolve(host, port, wait_seconds)
    for address in addresses:
        reason = refusal(address)
        if reason is None:
            continue
        what = f"{address} is" if _literal(host) else f"{host} resolves to {address},"
        raise AddressRefused(
            f"{what} a {reason} address: webhooks go to public addresses only "
            "(SLOTBOOK_WEBHOOK_ALLOW_PRIVATE_ADDRESSES is off)"
        )
    return Target(url, addresses[0])
