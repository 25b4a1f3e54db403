"""Who is calling: the token is read and checked against the database on every request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from starlette.types import Message

from slotbook.auth import service
from slotbook.auth.security import EVERYONE, MANAGERS, Principal, Role, read_token
from slotbook.clock import Clock
from slotbook.errors import Forbidden, NotAuthenticated
from slotbook.storage import SessionDep

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]


async def get_token_policy(request: Request) -> service.TokenPolicy:
    settings = request.app.state.settings
    return service.TokenPolicy(
        secret=request.app.state.secret_key,
        ttl=timedelta(minutes=settings.access_token_minutes),
    )


TokenPolicyDep = Annotated[service.TokenPolicy, Depends(get_token_policy)]


async def authenticated(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    if not token:
        raise NotAuthenticated()
    principal = read_token(token, secret=request.app.state.secret_key, now=clock.now())
    await service.check_principal(session, principal)
    return principal


def require(roles: frozenset[Role]) -> Callable[..., Awaitable[Principal]]:
    async def check(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
        if principal.role not in roles:
            raise Forbidden()
        return principal

    return check


AnyUser = Annotated[Principal, Depends(require(EVERYONE))]
Manager = Annotated[Principal, Depends(require(MANAGERS))]
BusinessOwner = Annotated[Principal, Depends(require(frozenset({Role.OWNER})))]


async def _null_body() -> Message:
    return {"type": "http.request", "body": b"null", "more_body": False}


class CallerFirstRoute(APIRoute):
    """A route that decides 401/403 before it complains about a malformed JSON body.

    FastAPI parses the JSON body before it runs any dependency, so a body that is not
    JSON would be answered 422 to a caller without a valid token. On that error the
    request is solved once more with a ``null`` body: the auth dependencies then answer
    401/403 first, and the JSON error is only shown to a caller who may make the call.
    Only routes whose body is required are retried, so the endpoint itself never runs
    (a missing body fails validation before the endpoint is called).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None or not self.body_field.field_info.is_required():
            return handler

        async def caller_first(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                if not any(error.get("type") == "json_invalid" for error in exc.errors()):
                    raise
                with suppress(RequestValidationError):
                    await handler(Request(request.scope, _null_body))
                raise exc from None

        return caller_first
