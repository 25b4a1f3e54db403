"""Webhook endpoints under /api/v1/webhooks: owners and admins only (staff 403)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from slotbook.auth.dependencies import AnyUser, CallerFirstRoute, ClockDep, Manager, oauth2_scheme
from slotbook.auth.security import MANAGERS, read_token
from slotbook.errors import AUTHED, Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from slotbook.errors import responses as error_responses
from slotbook.notifications.models import WebhookStatus
from slotbook.notifications.schemas import (
    EmailLog,
    WebhookCreate,
    WebhookDeliveryOut,
    WebhookOut,
    WebhookPatch,
    WebhookWithSecret,
)
from slotbook.notifications.service import webhooks as service
from slotbook.notifications.service.email_log import email_log
from slotbook.schemas import Id, Page, PageParams, page_params
from slotbook.storage import SessionDep

Paging = Annotated[PageParams, Depends(page_params)]
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]
_ROLES = "Owners and admins only (403 for front-desk staff)."
_SIGNING = (
    "Requests follow Standard Webhooks: `webhook-id` (the event's id, the same on every "
    "attempt and redelivery), `webhook-timestamp`, `webhook-signature` "
    "(`v1,<base64 HMAC-SHA256>` of `<id>.<timestamp>.<body>` under the secret), and a "
    'JSON body `{"type", "timestamp", "data"}`.'
)

router = APIRouter(route_class=CallerFirstRoute, tags=["webhooks"])


def _policy(request: Request) -> service.AddressPolicy:
    return service.AddressPolicy(
        allow_private=request.app.state.settings.webhook_allow_private_addresses
    )


def _manager_token(request: Request, clock: ClockDep, token: str | None) -> None:
    """The token names an owner or admin, read without the database: these checks run
    before the request's transaction begins (``Manager`` checks the user after)."""
    if not token:
        raise NotAuthenticated()
    principal = read_token(token, secret=request.app.state.secret_key, now=clock.now())
    if principal.role not in MANAGERS:
        raise Forbidden()


async def _checked_create(
    data: WebhookCreate, request: Request, clock: ClockDep, token: TokenDep
) -> WebhookCreate:
    """The body with its URL's address checked, before the request's transaction begins,
    so a slow DNS answer holds no lock (SQLite's write lock included)."""
    _manager_token(request, clock, token)
    await service.check_url(data.url, _policy(request))
    return data


async def _checked_patch(
    data: WebhookPatch, request: Request, clock: ClockDep, token: TokenDep
) -> WebhookPatch:
    if "url" in data.model_fields_set and data.url is not None:
        _manager_token(request, clock, token)
        await service.check_url(data.url, _policy(request))
    return data


CheckedCreate = Annotated[WebhookCreate, Depends(_checked_create)]
CheckedPatch = Annotated[WebhookPatch, Depends(_checked_patch)]


@router.post(
    "/webhooks",
    status_code=201,
    response_model=WebhookWithSecret,
    responses=error_responses(*AUTHED, InvalidInput),
    summary="Register a webhook endpoint",
    description="The endpoint receives its business's events of `event_types` (or every "
    'type with `["*"]`), from when it is registered. `url` is http(s); a host that is, or '
    "resolves to, a private, loopback, link-local, multicast, reserved or unspecified "
    "address is 422 naming `url` (unless the server allows them), as is a host that does "
    "not resolve. The answer holds the signing `secret` (`whsec_<base64>`). "
    + _SIGNING
    + " "
    + _ROLES,
)
async def create_webhook(
    data: CheckedCreate, principal: Manager, session: SessionDep, clock: ClockDep
) -> WebhookWithSecret:
    return await service.create_webhook(session, principal, data, clock.now())


@router.get(
    "/webhooks",
    response_model=Page[WebhookOut],
    responses=error_responses(*AUTHED),
    summary="List webhook endpoints (without their secrets)",
    description="Oldest first. " + _ROLES,
)
async def list_webhooks(principal: Manager, session: SessionDep, page: Paging) -> Page[WebhookOut]:
    return await service.list_webhooks(session, principal, page)


@router.get(
    "/webhooks/{webhook_id}",
    response_model=WebhookWithSecret,
    responses=error_responses(*AUTHED, NotFound),
    summary="A webhook endpoint, with its signing secret",
    description="Another business's endpoint is 404. " + _ROLES,
)
async def get_webhook(
    webhook_id: str, principal: Manager, session: SessionDep
) -> WebhookWithSecret:
    return await service.get_webhook(session, principal, webhook_id)


@router.patch(
    "/webhooks/{webhook_id}",
    response_model=WebhookOut,
    responses=error_responses(*AUTHED, NotFound, InvalidInput),
    summary="Change a webhook endpoint; disable or re-activate it",
    description="Fields sent are changed: `url` (checked as on create), `event_types`, "
    "`description`, `active`. `active: false` disables the endpoint; `active: true` "
    "re-activates a disabled one (disabled by a manager, by a 410 Gone answer or after "
    "its attempts ran out): `disabled_reason` is cleared and its waiting deliveries "
    "resume. " + _ROLES,
)
async def update_webhook(
    webhook_id: str, data: CheckedPatch, principal: Manager, session: SessionDep, clock: ClockDep
) -> WebhookOut:
    return await service.update_webhook(session, principal, webhook_id, data, clock.now())


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    responses=error_responses(*AUTHED, NotFound),
    summary="Delete a webhook endpoint and its delivery log",
    description="Nothing more is sent to it. " + _ROLES,
)
async def delete_webhook(webhook_id: str, principal: Manager, session: SessionDep) -> Response:
    await service.delete_webhook(session, principal, webhook_id)
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=Page[WebhookDeliveryOut],
    responses=error_responses(*AUTHED, NotFound),
    summary="An endpoint's delivery log",
    description="One delivery per event sent to the endpoint, newest event first: its "
    "status (`pending`, `delivered`, `failed`), attempts, the last answer's status and "
    "the start of its body, the last error, the next retry and when it was delivered. " + _ROLES,
)
async def list_deliveries(
    webhook_id: str,
    principal: Manager,
    session: SessionDep,
    page: Paging,
    status: Annotated[WebhookStatus | None, Query()] = None,
) -> Page[WebhookDeliveryOut]:
    return await service.list_deliveries(session, principal, webhook_id, status, page)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=WebhookDeliveryOut,
    responses=error_responses(*AUTHED, NotFound, Conflict),
    summary="Queue a delivery again",
    description="The worker sends it again soon, with the same `webhook-id` and body and "
    "a fresh count of attempts. 409 `webhook_disabled` while the endpoint is disabled "
    "(re-activate it first). " + _ROLES,
)
async def redeliver(
    webhook_id: str,
    delivery_id: str,
    principal: Manager,
    session: SessionDep,
    clock: ClockDep,
) -> WebhookDeliveryOut:
    return await service.redeliver(session, principal, webhook_id, delivery_id, clock.now())


@router.get(
    "/emails",
    response_model=EmailLog,
    tags=["appointments"],
    summary="Emails sent about appointments (the desk shows them per booking)",
    responses=error_responses(*AUTHED),
)
async def emails_about(
    request: Request,
    principal: AnyUser,
    session: SessionDep,
    appointment_id: Annotated[list[Id], Query(min_length=1, max_length=200)],
) -> EmailLog:
    settings = request.app.state.settings
    items = await email_log(
        session,
        principal.tenant_id,
        appointment_id,
        written_to_files=not settings.smtp_host,
    )
    return EmailLog(items=items)
