from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.auth.models import Tenant, User
from slotbook.repository import TenantRepository
from slotbook.storage import TENANT_ID, Query, storage_of

# Run on every authenticated request, so built once (see ``repository.prepared_query``).
_ROLE = Query(
    sa.select(User.role).where(User.tenant_id == TENANT_ID, User.id == sa.bindparam("user_id"))
)


class UserRepository(TenantRepository[User]):
    model = User
    label = "User"


def savepoint(session: AsyncSession) -> AbstractAsyncContextManager[None]:
    """A part of the transaction that can fail alone (``DuplicateRow`` on a taken name)."""
    return storage_of(session).savepoint(session)


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    """Login looks users up across tenants: an email belongs to one account."""
    stmt = sa.select(User).where(sa.func.lower(User.email) == email.lower())
    user: User | None = (await storage_of(session).execute(session, stmt)).scalar_one_or_none()
    return user


async def find_user_in_tenant(session: AsyncSession, user_id: str, tenant_id: str) -> User | None:
    return await UserRepository(session, tenant_id).get(user_id)


async def role_in_tenant(session: AsyncSession, user_id: str, tenant_id: str) -> str | None:
    """The user's current role, or None when the user is gone (checked on every request)."""
    rows = await storage_of(session).fetch(
        session, _ROLE, {"tenant_id": tenant_id, "user_id": user_id}
    )
    role: str | None = rows[0][0] if rows else None
    return role


async def slugs_like(session: AsyncSession, base: str) -> set[str]:
    stmt = sa.select(Tenant.slug).where(sa.or_(Tenant.slug == base, Tenant.slug.like(f"{base}-%")))
    return set((await storage_of(session).execute(session, stmt)).scalars())


async def slug_taken(session: AsyncSession, slug: str, *, other_than: str) -> bool:
    stmt = sa.select(Tenant.id).where(Tenant.slug == slug, Tenant.id != other_than)
    return (await storage_of(session).execute(session, stmt.limit(1))).first() is not None


async def get_tenant(session: AsyncSession, tenant_id: str) -> Tenant | None:
    tenant: Tenant | None = await session.get(Tenant, tenant_id)
    return tenant


async def tenant_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    stmt = sa.select(Tenant).where(Tenant.slug == slug)
    tenant: Tenant | None = (await storage_of(session).execute(session, stmt)).scalar_one_or_none()
    return tenant
