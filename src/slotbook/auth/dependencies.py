"""Who is calling: the token is read and checked against the database on every request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from slotbook.auth import service
from slotbook.auth.security import EVERYONE, MANAGERS, Principal, Role, read_token
from slotbook.clock import Clock
from slotbook.db import SessionDep
from slotbook.errors import Forbidden, NotAuthenticated

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]


def get_token_policy(request: Request) -> service.TokenPolicy:
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
    await service.current_user(session, principal)
    return principal


def require(roles: frozenset[Role]) -> Callable[..., Awaitable[Principal]]:
    async def check(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
        if principal.role not in roles:
            raise Forbidden()
        return principal

    return check


AnyUser = Annotated[Principal, Depends(require(EVERYONE))]
Manager = Annotated[Principal, Depends(require(MANAGERS))]
