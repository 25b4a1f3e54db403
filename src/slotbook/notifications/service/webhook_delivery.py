"""Webhooks leaving: what a delivery's body says, how it is signed and sent, and what an
answer means.

Protocol (Standard Webhooks, https://www.standardwebhooks.com/): ``POST`` of the JSON
body ``{"type", "timestamp", "data"}`` with

- ``webhook-id``: the outbox event's id, the same on every attempt and redelivery (a
  receiver deduplicates by it);
- ``webhook-timestamp``: the attempt's time, seconds since 1970;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`` under
  the endpoint's secret, made by the ``standardwebhooks`` library.

An answer 2xx is delivered; 410 Gone disables the endpoint at once; anything else (other
statuses, redirects, network errors, timeouts) is retried with backoff. Each request is
bounded by ``timeout`` as a whole, follows no redirect, ignores proxy variables and
opens its own connection (two endpoints on one address never share a TLS session).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from slotbook import __version__
from slotbook.notifications.schemas import (
    ALL_EVENT_TYPES,
    WEBHOOK_EVENT_TYPES,
    ClaimedDelivery,
    ClaimedEvent,
    parse_webhook_url,
)
from slotbook.notifications.service.addresses import (
    AddressRefused,
    UnresolvableHost,
    check_target,
)
from slotbook.settings import Settings

# What of an outbox event's payload a webhook carries: ids, times and counts of the
# business's own bookings and waitlist entries. Anything else a payload gains later
# stays out until named here (no customer's contact details are ever in it).
DATA_FIELDS = (
    "appointment_id",
    "entry_id",
    "waitlist_entry_id",
    "customer_id",
    "status",
    "from_status",
    "reason",
    "actor",
    "user_id",
    "date",
    "start_time",
    "end_time",
    "starts_at",
    "ends_at",
    "from",
    "to",
    "outlet_id",
    "service_id",
    "service_name",
    "staff_id",
    "staff_name",
    "bookings",
    "capacity",
    "party_size",
    "position",
)
# How much of an answer's body the delivery log keeps.
EXCERPT_BYTES = 1024
EXCERPT_CHARS = 500
USER_AGENT = f"Slotbook-Webhooks/{__version__}"


@dataclass(frozen=True)
class WebhookConfig:
    """How the worker sends webhooks (``SLOTBOOK_WEBHOOK_*``)."""

    max_attempts: int = 10
    backoff: timedelta = timedelta(seconds=60)
    backoff_max: timedelta = timedelta(hours=6)
    timeout: float = 10.0
    allow_private_addresses: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookConfig:
        return cls(
            max_attempts=settings.webhook_max_attempts,
            backoff=timedelta(seconds=settings.webhook_backoff_seconds),
            backoff_max=timedelta(seconds=settings.webhook_backoff_max_seconds),
            timeout=settings.webhook_timeout_seconds,
            allow_private_addresses=settings.webhook_allow_private_addresses,
        )

    def backoff_after(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: doubling, capped."""
        wait: timedelta = self.backoff * 2 ** max(0, attempts - 1)
        return min(wait, self.backoff_max)


# What goes out


def is_webhook_event(event_type: str) -> bool:
    return event_type in WEBHOOK_EVENT_TYPES


def subscribes(event_types: list[str], event_type: str) -> bool:
    """Whether an endpoint subscribed to ``event_types`` receives ``event_type``."""
    return ALL_EVENT_TYPES in event_types or event_type in event_types


def webhook_body(event: ClaimedEvent) -> str:
    """The JSON an event's deliveries send, fixed when they are written (a retry or a
    redelivery sends the same bytes)."""
    data = {key: event.payload[key] for key in DATA_FIELDS if key in event.payload}
    body = {"type": event.type, "timestamp": event.created_at.isoformat(), "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def signed_headers(delivery: ClaimedDelivery, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt at ``now``."""
    timestamp = now.astimezone(UTC)
    signature = Webhook(delivery.secret).sign(delivery.event_id, timestamp, delivery.body)
    return {
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "accept-encoding": "identity",
    }


# What came of an attempt


class Result(StrEnum):
    DELIVERED = "delivered"  # 2xx
    RETRY = "retry"  # another status, a network error, a timeout, no DNS answer
    GONE = "gone"  # 410: the receiver says the endpoint is no more
    REFUSED = "refused"  # the address rule forbids the URL now


@dataclass(frozen=True)
class Attempt:
    result: Result
    status: int | None = None
    excerpt: str | None = None
    error: str | None = None

    def describe(self) -> str:
        return self.error or f"HTTP {self.status}"


@dataclass
class WebhookSender:
    """Sends one delivery per call; see the module's docstring."""

    config: WebhookConfig
    _tls: ssl.SSLContext | None = field(default=None, init=False, repr=False)

    async def send(self, delivery: ClaimedDelivery, now: datetime) -> Attempt:
        try:
            url = parse_webhook_url(delivery.url)
        except ValueError as exc:
            return Attempt(Result.REFUSED, error=_clean(f"refused: the URL is unusable: {exc}"))
        try:
            target = await check_target(
                url,
                allow_private=self.config.allow_private_addresses,
                wait_seconds=self.config.timeout,
            )
        except AddressRefused as exc:
            return Attempt(Result.REFUSED, error=_clean(f"refused: {exc}"))
        except UnresolvableHost as exc:
            return Attempt(Result.RETRY, error=_clean(f"could not resolve the host: {exc}"))

        headers = signed_headers(delivery, now)
        request_url = url
        extensions: dict[str, Any] = {}
        if target.address is not None:
            # Connect to the address just checked; the name still goes in Host and in
            # TLS (SNI and the certificate check).
            headers["host"] = url.netloc.decode("ascii")
            request_url = url.copy_with(host=str(target.address))
            if url.scheme == "https":
                extensions["sni_hostname"] = url.raw_host.decode("ascii")
        timeout = self.config.timeout
        try:
            async with asyncio.timeout(timeout), self._client() as client:
                request = client.build_request(
                    "POST",
                    request_url,
                    content=delivery.body.encode(),
                    headers=headers,
                    extensions=extensions,
                )
                response = await client.send(request, stream=True)
                try:
                    excerpt = await _excerpt(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            return Attempt(Result.RETRY, error=f"no answer within {timeout:g} s")
        except httpx.HTTPError as exc:
            return Attempt(Result.RETRY, error=_clean(f"{type(exc).__name__}: {exc}"))
        status = response.status_code
        if 200 <= status < 300:
            return Attempt(Result.DELIVERED, status, excerpt)
        if status == 410:
            return Attempt(Result.GONE, status, excerpt, "HTTP 410 Gone")
        return Attempt(Result.RETRY, status, excerpt, f"HTTP {status}")

    def _client(self) -> httpx.AsyncClient:
        if self._tls is None:
            self._tls = httpx.create_ssl_context()
        return httpx.AsyncClient(
            verify=self._tls,
            timeout=httpx.Timeout(self.config.timeout),
            follow_redirects=False,
            trust_env=False,
        )


async def _excerpt(response: httpx.Response) -> str:
    """The start of the answer's body, read no further than ``EXCERPT_BYTES``."""
    taken = bytearray()
    async for chunk in response.aiter_raw():
        taken += chunk
        if len(taken) >= EXCERPT_BYTES:
            break
    return _clean(bytes(taken[:EXCERPT_BYTES]).decode("utf-8", "replace"))[:EXCERPT_CHARS]


def _clean(text: str) -> str:
    """Text the database can store (PostgreSQL refuses NUL), within the column."""
    return text.replace("\x00", "")[:1000]
