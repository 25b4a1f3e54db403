"""The shapes the worker passes around (claimed events, messages, delivery outcomes,
claimed webhook deliveries) and the webhook API's requests and answers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar

import httpx
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from slotbook.notifications.models import WebhookStatus
from slotbook.schemas import PatchModel


@dataclass(frozen=True)
class ClaimedEvent:
    """An outbox event this worker holds the lease of."""

    seq: int
    id: str
    tenant_id: str
    type: str
    stream: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    data: bytes
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Email:
    """One message to one recipient (never anyone else on it)."""

    kind: str
    appointment_id: str | None
    recipient: str
    recipient_name: str
    sender_name: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What became of one message this attempt."""

    email: Email
    status: str  # "sent", "retrying" or "failed"
    error: str | None = None


@dataclass(frozen=True)
class ClaimedDelivery:
    """A webhook delivery this worker holds the lease of, with where it goes."""

    id: str
    tenant_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    body: str
    attempts: int
    url: str
    secret: str


# Webhooks: the event types an endpoint may subscribe to (the outbox's types).

WEBHOOK_EVENT_TYPES = (
    "appointment.created",
    "appointment.rescheduled",
    "appointment.cancelled",
    "appointment.no_show",
    "appointment.completed",
    "appointment.confirmed",
    "appointment.party_size_changed",
    "appointment.staff_changed",
    "session.almost_full",
    "session.full",
    "waitlist.joined",
    "waitlist.promoted",
    "waitlist.cancelled",
    "waitlist.expired",
    "waitlist.session_changed",
    "class_session.cancelled",
    "class_session.moved",
    "class_session.substituted",
    "class_schedule.date_skipped",
)
# Every type, those added later included.
ALL_EVENT_TYPES = "*"
_KNOWN = ", ".join(WEBHOOK_EVENT_TYPES)
# A host name: letters, digits, hyphens (underscores too, as some DNS names carry them),
# dot-separated labels of 1-63 characters.
_HOST_NAME = re.compile(
    r"^(?=.{1,253}\.?$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
    r"(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$"
)


def _event_types(value: list[str]) -> list[str]:
    unknown = [
        kind for kind in value if kind != ALL_EVENT_TYPES and kind not in WEBHOOK_EVENT_TYPES
    ]
    if unknown:
        named = ", ".join(repr(kind) for kind in unknown)
        raise ValueError(f'unknown event type {named}; known: {_KNOWN}, or "*" for all')
    if ALL_EVENT_TYPES in value:
        if len(set(value)) > 1:
            raise ValueError('"*" (every type) stands alone')
        return [ALL_EVENT_TYPES]
    return [kind for kind in WEBHOOK_EVENT_TYPES if kind in value]


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def parse_webhook_url(value: str) -> httpx.URL:
    """An http(s) URL with a host name or IP address; ValueError naming what is wrong.
    Its address is checked by the service (registration) and the worker (each attempt)."""
    if any(ord(char) < 33 or ord(char) == 127 for char in value):
        raise ValueError("must not contain spaces or control characters")
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if url.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    host = url.raw_host.decode("ascii", "replace")
    if not host:
        raise ValueError("must name a host")
    if ":" not in host and not _HOST_NAME.match(host):
        raise ValueError(f"{host!r} is not a valid host name")
    return url


def _webhook_url(value: str) -> str:
    parse_webhook_url(value)
    return value


WebhookUrl = Annotated[
    str,
    BeforeValidator(_strip),
    Field(
        min_length=1,
        max_length=2000,
        description="http:// or https://; a host that resolves to a private, loopback, "
        "link-local, multicast, reserved or unspecified address is refused (422) unless "
        "the server allows them (SLOTBOOK_WEBHOOK_ALLOW_PRIVATE_ADDRESSES)",
        examples=["https://hooks.example.com/slotbook"],
    ),
    AfterValidator(_webhook_url),
]
EventTypes = Annotated[
    list[Annotated[str, Field(max_length=64)]],
    Field(
        min_length=1,
        max_length=20,
        description=f'the event types to receive: {_KNOWN}; or ["*"] for every type, '
        "those added later included",
        examples=[["appointment.created", "appointment.cancelled"]],
    ),
    AfterValidator(_event_types),
]
Description = Annotated[str, BeforeValidator(_strip), Field(max_length=500)]


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    return value


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl
    event_types: EventTypes
    description: Annotated[Description | None, AfterValidator(_no_nul)] = None


class WebhookPatch(PatchModel):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"description"})

    url: WebhookUrl | None = None
    event_types: EventTypes | None = None
    description: Annotated[Description | None, AfterValidator(_no_nul)] = None
    active: bool | None = Field(
        default=None,
        description="false disables the endpoint; true re-activates a disabled one (its "
        "held deliveries resume, and its disabled_reason is cleared)",
    )


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    description: str | None
    event_types: list[str]
    active: bool
    disabled_reason: str | None = Field(
        description="why the endpoint was disabled (by a manager, 410 Gone, attempts "
        "exhausted, an address refused); null while active"
    )
    disabled_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookOut):
    secret: str = Field(
        description="The signing secret, Standard Webhooks form `whsec_<base64>`: verify "
        "each request's `webhook-signature` with it. Shown on create and on "
        "`GET /webhooks/{id}` (owners and admins only).",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookDeliveryOut(BaseModel):
    id: str
    event_id: str = Field(description="the `webhook-id` header: the same on every attempt")
    event_type: str
    status: WebhookStatus
    attempts: int
    last_response_status: int | None
    last_response_body: str | None = Field(description="the start of the last answer's body")
    last_error: str | None
    next_retry_at: datetime | None = Field(
        description="when the next attempt is due; null once delivered or failed, and "
        "while the endpoint is disabled"
    )
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime


class EmailNotice(BaseModel):
    """An email about an appointment, as the desk and the customer's page show it."""

    appointment_id: str
    kind: str = Field(description="confirmation, rescheduled, cancelled, reminder, ...")
    to: str = Field(description="the recipient (masked on the customer's own page)")
    status: str = Field(description="sent, retrying or failed")
    sent_at: datetime | None
    written_to_file: bool = Field(
        description="true when no mail server is configured and the message was written "
        "as an .eml file under the server's var folder instead (the demo)"
    )


class EmailLog(BaseModel):
    items: list[EmailNotice]
