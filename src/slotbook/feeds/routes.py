"""Calendar feeds: managed under /api/v1/calendar-feeds, read at /feeds/{token}.ics."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response

from slotbook.auth.dependencies import AnyUser, CallerFirstRoute, ClockDep
from slotbook.errors import AUTHED, InvalidInput, NotFound, ServiceBusy, responses
from slotbook.feeds import service
from slotbook.feeds.models import FeedKind
from slotbook.feeds.schemas import CalendarFeedCreate, CalendarFeedCreated, CalendarFeedOut
from slotbook.schemas import Id, Page, PageParams, page_params
from slotbook.storage import SessionDep

API_PREFIX = "/api/v1"
CACHE_CONTROL = "private, max-age=300"
CALENDAR_TYPE = "text/calendar"
Paging = Annotated[PageParams, Depends(page_params)]
_ROLES = (
    "Owners and admins manage every kind of feed; front-desk staff (role `staff`) manage "
    "customer feeds only (403 for another kind)."
)

api = APIRouter(route_class=CallerFirstRoute, tags=["calendar feeds"])
public = APIRouter(tags=["calendar feeds"])


@api.post(
    "/calendar-feeds",
    status_code=201,
    response_model=CalendarFeedCreated,
    responses=responses(*AUTHED, InvalidInput),
    summary="Create a calendar feed; its URL is shown only in this answer",
    description="A subscribable iCalendar feed of a staff member's sessions, a customer's "
    "bookings or an outlet's booked classes, at `url` (`/feeds/{token}.ics`, no login). "
    "Only a hash of the token is kept: keep the URL, or revoke the feed and create another. "
    "An unknown or another business's `subject_id` is 422 naming `subject_id`. " + _ROLES,
)
async def create_feed(
    data: CalendarFeedCreate, principal: AnyUser, session: SessionDep, clock: ClockDep
) -> CalendarFeedCreated:
    return await service.create_feed(session, principal, data, clock.now())


@api.get(
    "/calendar-feeds",
    response_model=Page[CalendarFeedOut],
    responses=responses(*AUTHED),
    summary="List live calendar feeds (never their URLs)",
    description="Feeds not revoked, oldest first, of the kinds the caller's role manages. "
    + _ROLES,
)
async def list_feeds(
    principal: AnyUser,
    session: SessionDep,
    page: Paging,
    kind: Annotated[FeedKind | None, Query()] = None,
    subject_id: Annotated[Id | None, Query()] = None,
) -> Page[CalendarFeedOut]:
    items, total = await service.list_feeds(session, principal, kind, subject_id, page)
    return Page[CalendarFeedOut](
        items=[CalendarFeedOut.model_validate(item) for item in items], total=total
    )


@api.delete(
    "/calendar-feeds/{feed_id}",
    status_code=204,
    responses=responses(*AUTHED, NotFound),
    summary="Revoke a calendar feed: its URL answers 404 from now on",
    description="Revoking a revoked feed is 204 and changes nothing. " + _ROLES,
)
async def revoke_feed(
    feed_id: str, principal: AnyUser, session: SessionDep, clock: ClockDep
) -> Response:
    await service.revoke_feed(session, principal, feed_id, clock.now())
    return Response(status_code=204)


class CalendarResponse(Response):
    media_type = CALENDAR_TYPE


_FEED_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": f"The feed (RFC 5545), with `ETag` and `Cache-Control: {CACHE_CONTROL}`",
        "content": {CALENDAR_TYPE: {"schema": {"type": "string"}}},
    },
    304: {"description": "Not modified: `If-None-Match` names the current `ETag`"},
    **responses(NotFound, ServiceBusy),
}


@public.get(
    "/feeds/{token}.ics",
    response_class=CalendarResponse,
    responses=_FEED_ANSWERS,
    summary="A calendar feed, for calendar apps (no login: the token is the key)",
    description="Events from 30 days ago to 180 days ahead, times in UTC, each description "
    "naming the outlet's time zone and local times. Stable UIDs: "
    "`appointment-<id>@slotbook` (customer feeds), "
    "`session-<staff>-<service>-<start epoch>@slotbook` (staff and outlet feeds). "
    "Cancelled bookings stay in customer feeds with `STATUS:CANCELLED`, as does a staff "
    "member's session whose bookings are all cancelled. Outlet feeds hold no customer's "
    "data. An unknown or revoked token is 404.",
)
async def read_feed(
    token: str,
    session: SessionDep,
    clock: ClockDep,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    body = await service.feed_body(session, token, clock.now())
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
    }
    if if_none_match is not None and _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return CalendarResponse(body, headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison, as a GET's ``If-None-Match`` asks for."""
    if if_none_match.strip() == "*":
        return True
    candidates = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
    return etag in candidates


router = APIRouter()
router.include_router(api, prefix=API_PREFIX)
router.include_router(public)
