"""The customer's private booking link, shared by the public pages and the emails.

The token is ``<tenant>.<appointment>.<mac>``: an HMAC of the tenant and appointment ids
under a key derived from the server's secret, so it cannot be guessed or moved to
another booking. It lives here, below both ``public`` and ``notifications``, so neither
imports the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from slotbook.errors import NotFound

_TOKEN_PURPOSE = b"slotbook/public-booking-link/v1"
# A waitlist entry's link signs under a key of its own, so no entry link ever opens a
# booking page or the other way round.
_WAITLIST_PURPOSE = b"slotbook/public-waitlist-link/v1"
_ID = re.compile(r"^[0-9a-f]{24}$")


def _link_key(secret: str, purpose: bytes) -> bytes:
    """A key of its own for links, derived from the app secret (never used as a JWT key)."""
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


def _mac(secret: str, tenant_id: str, item_id: str, purpose: bytes) -> str:
    digest = hmac.new(
        _link_key(secret, purpose), f"{tenant_id}:{item_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _token(secret: str, tenant_id: str, item_id: str, purpose: bytes) -> str:
    return f"{tenant_id}.{item_id}.{_mac(secret, tenant_id, item_id, purpose)}"


def _signed_ids(secret: str, token: str, purpose: bytes) -> tuple[str, str] | None:
    """(tenant, item) of a token whose signature holds for ``purpose``; None otherwise."""
    parts = token.split(".")
    if len(parts) == 3 and _ID.match(parts[0]) and _ID.match(parts[1]):
        tenant_id, item_id, mac = parts
        expected = _mac(secret, tenant_id, item_id, purpose)
        if hmac.compare_digest(mac.encode(), expected.encode()):
            return tenant_id, item_id
    return None


def booking_token(secret: str, tenant_id: str, appointment_id: str) -> str:
    return _token(secret, tenant_id, appointment_id, _TOKEN_PURPOSE)


@dataclass(frozen=True)
class LinkedBooking:
    tenant_id: str
    appointment_id: str
    token: str


def read_token(secret: str, token: str) -> LinkedBooking:
    """The booking a link names, when its signature holds; any defect is the same 404."""
    signed = _signed_ids(secret, token, _TOKEN_PURPOSE)
    if signed is None:
        raise NotFound("Booking not found")
    return LinkedBooking(*signed, token)


def manage_path(token: str) -> str:
    return f"/my-booking/{token}"


def manage_url(base_url: str, secret: str, tenant_id: str, appointment_id: str) -> str:
    """The absolute private link, as an email carries it."""
    return base_url.rstrip("/") + manage_path(booking_token(secret, tenant_id, appointment_id))


# A waitlist entry's private link: the customer sees their place in line and can leave.


def waitlist_token(secret: str, tenant_id: str, entry_id: str) -> str:
    return _token(secret, tenant_id, entry_id, _WAITLIST_PURPOSE)


@dataclass(frozen=True)
class LinkedEntry:
    tenant_id: str
    entry_id: str
    token: str


def read_waitlist_token(secret: str, token: str) -> LinkedEntry:
    """The waitlist entry a link names, when its signature holds; else one 404."""
    signed = _signed_ids(secret, token, _WAITLIST_PURPOSE)
    if signed is None:
        raise NotFound("Waitlist entry not found")
    return LinkedEntry(*signed, token)


def waitlist_path(token: str) -> str:
    return f"/my-waitlist/{token}"


def waitlist_url(base_url: str, secret: str, tenant_id: str, entry_id: str) -> str:
    """The absolute private link of a waitlist entry, as an email carries it."""
    return base_url.rstrip("/") + waitlist_path(waitlist_token(secret, tenant_id, entry_id))
