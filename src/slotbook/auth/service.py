from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.auth import repository
from slotbook.auth.models import Tenant, User
from slotbook.auth.schemas import SignupIn, TenantUpdate, UserCreate
from slotbook.auth.security import Principal, Role, hash_password, issue_token, verify_password
from slotbook.errors import Conflict, DuplicateRow, InvalidCredentials, NotAuthenticated
from slotbook.ids import new_id
from slotbook.text import slugify, unique_slug

_SLUG_ATTEMPTS = 20


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
    tenant = await _add_tenant(session, data, now)
    user = await _add_user(
        session,
        tenant.id,
        User(
            email=data.email.lower(),
            name=data.name or data.email.split("@")[0],
            role=Role.OWNER.value,
            password_hash=hash_password(data.password),
            created_at=now,
        ),
    )
    token = tokens.issue(Principal(user.id, tenant.id, Role.OWNER), now)
    return tenant, user, token


async def _add_tenant(session: AsyncSession, data: SignupIn, now: datetime) -> Tenant:
    """A tenant with a slug of its own, also when businesses of one name sign up at once.

    A concurrent signup may take the chosen slug between our read and our insert; the
    insert then fails in its savepoint and the next free slug is tried.
    """
    base_slug = slugify(data.business_name)
    for _attempt in range(_SLUG_ATTEMPTS):
        tenant = Tenant(
            id=new_id(),
            name=data.business_name,
            slug=unique_slug(base_slug, await repository.slugs_like(session, base_slug)),
            currency=data.currency,
            created_at=now,
        )
        try:
            async with repository.savepoint(session):
                session.add(tenant)
        except DuplicateRow:
            continue
        return tenant
    raise Conflict("Could not choose a unique name for the business, please retry")


async def _add_user(session: AsyncSession, tenant_id: str, user: User) -> User:
    """Insert a user; an email taken meanwhile by a concurrent request is still 409."""
    users = repository.UserRepository(session, tenant_id)
    try:
        async with users.savepoint():
            users.add(user)
    except DuplicateRow as exc:
        raise EmailTaken() from exc
    return user


async def login(
    session: AsyncSession, email: str, password: str, *, tokens: TokenPolicy, now: datetime
) -> str:
    user = await repository.find_user_by_email(session, email)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise InvalidCredentials()
    return tokens.issue(Principal(user.id, user.tenant_id, Role(user.role)), now)


async def check_principal(session: AsyncSession, principal: Principal) -> None:
    """The token's user still exists in the token's tenant with the token's role.

    Reads one column, not the user: this runs before every authenticated request.
    """
    role = await repository.role_in_tenant(session, principal.user_id, principal.tenant_id)
    if role is None or role != principal.role.value:
        raise NotAuthenticated("Could not validate credentials")


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
    return await _add_user(
        session,
        principal.tenant_id,
        User(
            email=data.email.lower(),
            name=data.name,
            role=data.role,
            password_hash=hash_password(data.password),
            created_at=now,
        ),
    )


class SlugTaken(Conflict):
    code = "slug_taken"
    default_detail = "Another business already uses this slug"


async def get_tenant(session: AsyncSession, principal: Principal) -> Tenant:
    tenant = await repository.get_tenant(session, principal.tenant_id)
    if tenant is None:
        raise NotAuthenticated("Could not validate credentials")
    return tenant


async def update_tenant(session: AsyncSession, principal: Principal, data: TenantUpdate) -> Tenant:
    tenant = await get_tenant(session, principal)
    changes = data.changes()
    if "slug" in changes and await repository.slug_taken(
        session, changes["slug"], other_than=tenant.id
    ):
        raise SlugTaken()
    for name, value in changes.items():
        setattr(tenant, name, value)
    try:
        async with repository.savepoint(session):
            await session.flush()
    except DuplicateRow as exc:  # the same slug taken concurrently
        raise SlugTaken() from exc
    return tenant


async def tenant_slug(session: AsyncSession, tenant_id: str) -> str:
    tenant = await repository.get_tenant(session, tenant_id)
    return tenant.slug if tenant else ""


# For the public booking pages, which name the business by its slug and have no principal


async def tenant_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    return await repository.tenant_by_slug(session, slug)


async def find_tenant(session: AsyncSession, tenant_id: str) -> Tenant | None:
    return await repository.get_tenant(session, tenant_id)
