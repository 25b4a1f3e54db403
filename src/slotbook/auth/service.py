from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.auth import repository
from slotbook.auth.models import Tenant, User
from slotbook.auth.schemas import SignupIn, UserCreate
from slotbook.auth.security import Principal, Role, hash_password, issue_token, verify_password
from slotbook.errors import Conflict, InvalidCredentials, NotAuthenticated
from slotbook.ids import new_id
from slotbook.text import slugify, unique_slug


class EmailTaken(Conflict):
    code = "email_taken"
    default_detail = "An account with this email already exists"


@dataclass(frozen=True)
class TokenPolicy:
    secret: str
    ttl: timedelta

    def issue(self, principal: Principal, now: datetime) -> str:
        return issue_token(principal, secret=self.secret, now=now, ttl=self.ttl)


async def signup(
    session: AsyncSession, data: SignupIn, *, tokens: TokenPolicy, now: datetime
) -> tuple[Tenant, User, str]:
    if await repository.find_user_by_email(session, data.email) is not None:
        raise EmailTaken()
    base_slug = slugify(data.business_name)
    tenant = Tenant(
        id=new_id(),
        name=data.business_name,
        slug=unique_slug(base_slug, await repository.slugs_like(session, base_slug)),
        currency=data.currency,
        created_at=now,
    )
    session.add(tenant)
    await session.flush()
    user = repository.UserRepository(session, tenant.id).add(
        User(
            email=data.email.lower(),
            name=data.name or data.email.split("@")[0],
            role=Role.OWNER.value,
            password_hash=hash_password(data.password),
            created_at=now,
        )
    )
    await session.flush()
    token = tokens.issue(Principal(user.id, tenant.id, Role.OWNER), now)
    return tenant, user, token


async def login(
    session: AsyncSession, email: str, password: str, *, tokens: TokenPolicy, now: datetime
) -> str:
    user = await repository.find_user_by_email(session, email)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise InvalidCredentials()
    return tokens.issue(Principal(user.id, user.tenant_id, Role(user.role)), now)


async def current_user(session: AsyncSession, principal: Principal) -> User:
    """The token's user, still in the token's tenant with the token's role."""
    user = await repository.find_user_in_tenant(session, principal.user_id, principal.tenant_id)
    if user is None or user.role != principal.role.value:
        raise NotAuthenticated("Could not validate credentials")
    return user


async def create_user(
    session: AsyncSession, principal: Principal, data: UserCreate, *, now: datetime
) -> User:
    if await repository.find_user_by_email(session, data.email) is not None:
        raise EmailTaken()
    user = repository.UserRepository(session, principal.tenant_id).add(
        User(
            email=data.email.lower(),
            name=data.name,
            role=data.role,
            password_hash=hash_password(data.password),
            created_at=now,
        )
    )
    await session.flush()
    return user


async def tenant_slug(session: AsyncSession, tenant_id: str) -> str:
    tenant = await repository.get_tenant(session, tenant_id)
    return tenant.slug if tenant else ""
