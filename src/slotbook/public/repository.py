"""Data access for the public pages: tenants by slug, bookable services, the rate limit."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.auth.models import Tenant
from slotbook.catalog.models import Service, Staff, StaffService
from slotbook.db import dialect_of
from slotbook.public.models import RateLimitWindow


async def tenant_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    stmt = sa.select(Tenant).where(Tenant.slug == slug)
    tenant: Tenant | None = (await session.execute(stmt)).scalar_one_or_none()
    return tenant


async def bookable_services(session: AsyncSession, tenant_id: str, outlet_id: str) -> list[Service]:
    """Active services that at least one active staff member of the outlet offers."""
    offered = (
        sa.select(StaffService.service_id)
        .join(Staff, Staff.id == StaffService.staff_id)
        .where(StaffService.tenant_id == tenant_id)
        .where(Staff.tenant_id == tenant_id, Staff.outlet_id == outlet_id, Staff.active.is_(True))
    )
    stmt = (
        sa.select(Service)
        .where(Service.tenant_id == tenant_id, Service.active.is_(True))
        .where(Service.id.in_(offered))
        .order_by(Service.name, Service.id)
    )
    return list((await session.execute(stmt)).scalars())


async def lock_customer_email(session: AsyncSession, tenant_id: str, email: str) -> None:
    """Serialise find-or-create of one customer email (PostgreSQL; SQLite has one writer).

    Without it two simultaneous first bookings with the same email would create two
    customers, and a repeated Idempotency-Key would then look like a different request.
    """
    if dialect_of(session) != "postgresql":
        return
    digest = hashlib.sha256(f"public-customer:{tenant_id}:{email.lower()}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


async def count_request(session: AsyncSession, client_key: str, window_start: int) -> int:
    """Add one request to the client's window and answer the window's count (atomically)."""
    insert = postgresql.insert if dialect_of(session) == "postgresql" else sqlite.insert
    stmt = (
        insert(RateLimitWindow)
        .values(client_key=client_key, window_start=window_start, hits=1)
        .on_conflict_do_update(
            index_elements=[RateLimitWindow.client_key, RateLimitWindow.window_start],
            set_={"hits": RateLimitWindow.hits + 1},
        )
        .returning(RateLimitWindow.hits)
    )
    return int((await session.execute(stmt)).scalar_one())


async def forget_windows_before(session: AsyncSession, window_start: int) -> None:
    await session.execute(
        sa.delete(RateLimitWindow).where(RateLimitWindow.window_start < window_start)
    )
