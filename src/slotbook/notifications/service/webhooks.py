"""Webhook endpoints, managed by a business's owners and admins; their delivery log.

- The secret is generated here, in Standard Webhooks form (``whsec_`` + base64 of 32
  random bytes), and kept: the worker signs with it. It is shown on create and on
  ``GET /webhooks/{id}`` (managers only), never in lists.
- A URL's address is checked when it is registered or changed (422 naming ``url``) and
  again by the worker before each attempt (``addresses``). The check runs before the
  request's transaction begins (see the routes), so a slow DNS answer holds no lock.
- Nothing here sends anything: deliveries are written and sent by the worker.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.auth.security import Principal
from slotbook.errors import Conflict, InvalidInput, NotFound
from slotbook.notifications.models import WebhookDelivery, WebhookEndpoint, WebhookStatus
from slotbook.notifications.repository import WebhookDeliveryRepository, WebhookRepository
from slotbook.notifications.schemas import (
    WebhookCreate,
    WebhookDeliveryOut,
    WebhookOut,
    WebhookPatch,
    WebhookWithSecret,
    parse_webhook_url,
)
from slotbook.notifications.service.addresses import (
    AddressRefused,
    UnresolvableHost,
    check_target,
)
from slotbook.schemas import Page, PageParams

SECRET_BYTES = 32
SECRET_PREFIX = "whsec_"
# How long registration waits for a DNS answer.
RESOLVE_SECONDS = 5.0


class WebhookNotFound(NotFound):
    default_detail = "Webhook endpoint not found"


class WebhookDeliveryNotFound(NotFound):
    default_detail = "Webhook delivery not found"


class WebhookDisabled(Conflict):
    code = "webhook_disabled"
    default_detail = (
        "The endpoint is disabled: re-activate it (PATCH with active true) to redeliver"
    )


@dataclass(frozen=True)
class AddressPolicy:
    """The address rule as the server is configured (SLOTBOOK_WEBHOOK_*)."""

    allow_private: bool


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


async def check_url(url: str, policy: AddressPolicy) -> None:
    """422 naming ``url`` when its host is, or resolves to, an address webhooks may not
    go to, or resolves to nothing."""
    try:
        parsed = parse_webhook_url(url)
        await check_target(parsed, allow_private=policy.allow_private, wait_seconds=RESOLVE_SECONDS)
    except ValueError as exc:
        raise InvalidInput(f"url: {exc}", field="url") from None
    except AddressRefused as exc:
        raise InvalidInput(f"url: {exc}", field="url") from None
    except UnresolvableHost as exc:
        raise InvalidInput(f"url: the host does not resolve ({exc})", field="url") from None


# Endpoints


async def create_webhook(
    session: AsyncSession, principal: Principal, data: WebhookCreate, now: datetime
) -> WebhookWithSecret:
    """A new active endpoint; ``data.url`` has passed ``check_url``."""
    repo = WebhookRepository(session, principal.tenant_id)
    endpoint = repo.add(
        WebhookEndpoint(
            url=data.url,
            description=data.description,
            event_types=list(data.event_types),
            secret=new_secret(),
            active=True,
            disabled_reason=None,
            disabled_at=None,
            created_by=principal.user_id,
            created_at=now,
            updated_at=now,
        )
    )
    await repo.flush()
    return WebhookWithSecret.model_validate(endpoint)


async def list_webhooks(
    session: AsyncSession, principal: Principal, page: PageParams
) -> Page[WebhookOut]:
    repo = WebhookRepository(session, principal.tenant_id)
    items, total = await repo.page(repo.listing(), limit=page.limit, offset=page.offset)
    return Page[WebhookOut](items=[WebhookOut.model_validate(i) for i in items], total=total)


async def _endpoint(
    session: AsyncSession, principal: Principal, webhook_id: str
) -> WebhookEndpoint:
    """One of the caller's business's endpoints; another business's is not found."""
    endpoint = await WebhookRepository(session, principal.tenant_id).get(webhook_id)
    if endpoint is None:
        raise WebhookNotFound()
    return endpoint


async def get_webhook(
    session: AsyncSession, principal: Principal, webhook_id: str
) -> WebhookWithSecret:
    return WebhookWithSecret.model_validate(await _endpoint(session, principal, webhook_id))


async def update_webhook(
    session: AsyncSession,
    principal: Principal,
    webhook_id: str,
    data: WebhookPatch,
    now: datetime,
) -> WebhookOut:
    """Apply the fields sent (a new ``url`` has passed ``check_url``). ``active`` false
    disables the endpoint (its pending deliveries wait); true re-activates it and
    clears ``disabled_reason`` (they resume)."""
    repo = WebhookRepository(session, principal.tenant_id)
    endpoint = await _endpoint(session, principal, webhook_id)
    changes: dict[str, Any] = data.changes()
    if "url" in changes:
        endpoint.url = changes["url"]
    if "event_types" in changes:
        endpoint.event_types = list(changes["event_types"])
    if "description" in changes:
        endpoint.description = changes["description"]
    if "active" in changes and changes["active"] != endpoint.active:
        endpoint.active = changes["active"]
        if endpoint.active:
            endpoint.disabled_reason, endpoint.disabled_at = None, None
        else:
            endpoint.disabled_reason = f"disabled by user {principal.user_id}"
            endpoint.disabled_at = now
    endpoint.updated_at = now
    await repo.flush()
    return WebhookOut.model_validate(endpoint)


async def delete_webhook(session: AsyncSession, principal: Principal, webhook_id: str) -> None:
    """Remove the endpoint and its delivery log; nothing more is sent to it."""
    endpoint = await _endpoint(session, principal, webhook_id)
    await WebhookRepository(session, principal.tenant_id).delete(endpoint.id)


# The delivery log


def delivery_out(delivery: WebhookDelivery, endpoint_active: bool) -> WebhookDeliveryOut:
    waiting = delivery.status == WebhookStatus.PENDING.value and endpoint_active
    return WebhookDeliveryOut(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        status=WebhookStatus(delivery.status),
        attempts=delivery.attempts,
        last_response_status=delivery.last_response_status,
        last_response_body=delivery.last_response_body,
        last_error=delivery.last_error,
        next_retry_at=delivery.available_at if waiting else None,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
    )


async def list_deliveries(
    session: AsyncSession,
    principal: Principal,
    webhook_id: str,
    status: WebhookStatus | None,
    page: PageParams,
) -> Page[WebhookDeliveryOut]:
    """An endpoint's deliveries, newest event first."""
    endpoint = await _endpoint(session, principal, webhook_id)
    repo = WebhookDeliveryRepository(session, principal.tenant_id)
    stmt = repo.log(endpoint.id, status.value if status else None)
    items: Sequence[WebhookDelivery]
    items, total = await repo.page(stmt, limit=page.limit, offset=page.offset)
    return Page[WebhookDeliveryOut](
        items=[delivery_out(item, endpoint.active) for item in items], total=total
    )


async def redeliver(
    session: AsyncSession,
    principal: Principal,
    webhook_id: str,
    delivery_id: str,
    now: datetime,
) -> WebhookDeliveryOut:
    """Queue a delivery again, due now, with a fresh count of attempts; it keeps its
    event id (the ``webhook-id``) and body. The worker sends it; 409 while the endpoint
    is disabled."""
    endpoint = await _endpoint(session, principal, webhook_id)
    repo = WebhookDeliveryRepository(session, principal.tenant_id)
    delivery = await repo.get(delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise WebhookDeliveryNotFound()
    if not endpoint.active:
        raise WebhookDisabled()
    delivery.status = WebhookStatus.PENDING.value
    delivery.attempts = 0
    delivery.available_at = now
    delivery.claimed_by, delivery.claimed_until = None, None
    delivery.delivered_at = None
    delivery.updated_at = now
    await repo.flush()
    return delivery_out(delivery, endpoint.active)
