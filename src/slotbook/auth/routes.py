from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from slotbook.auth import service
from slotbook.auth.dependencies import (
    AnyUser,
    BusinessOwner,
    CallerFirstRoute,
    ClockDep,
    Manager,
    TokenPolicyDep,
)
from slotbook.auth.schemas import (
    LoginIn,
    MeOut,
    SignupIn,
    SignupOut,
    TenantOut,
    TenantUpdate,
    TokenOut,
    UserCreate,
    UserOut,
)
from slotbook.errors import AUTHED, Conflict, InvalidCredentials, InvalidInput, responses
from slotbook.storage import SessionDep

router = APIRouter(tags=["auth"], route_class=CallerFirstRoute)


@router.post(
    "/auth/signup", status_code=201, response_model=SignupOut, responses=responses(Conflict)
)
async def signup(
    data: SignupIn, session: SessionDep, tokens: TokenPolicyDep, clock: ClockDep
) -> SignupOut:
    tenant, user, token = await service.signup(session, data, tokens=tokens, now=clock.now())
    return SignupOut(tenant_id=tenant.id, user=UserOut.model_validate(user), access_token=token)


@router.post("/auth/login", response_model=TokenOut, responses=responses(InvalidCredentials))
async def login(
    data: LoginIn, session: SessionDep, tokens: TokenPolicyDep, clock: ClockDep
) -> TokenOut:
    token = await service.login(session, data.email, data.password, tokens=tokens, now=clock.now())
    return TokenOut(access_token=token, expires_in=int(tokens.ttl.total_seconds()))


@router.post("/auth/token", response_model=TokenOut, responses=responses(InvalidCredentials))
async def token_form(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    tokens: TokenPolicyDep,
    clock: ClockDep,
) -> TokenOut:
    token = await service.login(
        session, form.username, form.password, tokens=tokens, now=clock.now()
    )
    return TokenOut(access_token=token, expires_in=int(tokens.ttl.total_seconds()))


@router.get("/auth/me", response_model=MeOut, responses=responses(*AUTHED))
async def me(principal: AnyUser, session: SessionDep) -> MeOut:
    user = await service.current_user(session, principal)
    slug = await service.tenant_slug(session, principal.tenant_id)
    return MeOut(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        tenant_id=user.tenant_id,
        tenant_slug=slug,
    )


@router.post(
    "/users", status_code=201, response_model=UserOut, responses=responses(*AUTHED, Conflict)
)
async def create_user(
    data: UserCreate, principal: Manager, session: SessionDep, clock: ClockDep
) -> UserOut:
    user = await service.create_user(session, principal, data, now=clock.now())
    return UserOut.model_validate(user)


@router.get("/tenant", response_model=TenantOut, responses=responses(*AUTHED))
async def get_tenant(principal: AnyUser, session: SessionDep) -> object:
    return await service.get_tenant(session, principal)


@router.patch(
    "/tenant", response_model=TenantOut, responses=responses(*AUTHED, Conflict, InvalidInput)
)
async def update_tenant(
    data: TenantUpdate, principal: BusinessOwner, session: SessionDep
) -> object:
    return await service.update_tenant(session, principal, data)
