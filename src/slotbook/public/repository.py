"""Data access for the public pages: tenants by slug, bookable services, the rate limit."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.auth.models import Tenant
from slotbook.catalog.models import Service, Staff, StaffService
from slotbook.public.models import RateLimitWindow
from slotbook.storage import storage_of


async def tenant_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    stmt = sa.select(Tenant).where(Tenant.slug == slug)
    tenant: Tenant | None = (await storage_of(session).execute(session, stmt)).scalar_one_or_none()
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
    return list((await storage_of(session).execute(session, stmt)).scalars())


async def count_request(session: AsyncSession, client_key: str, window_start: int) -> int:
    """Add one request to the client's window and answer the window's count (atomically)."""
    storage = storage_of(session)
    values = {"client_key": client_key, "window_start": window_start, "hits": 1}
    return await storage.increment(session, RateLimitWindow, values, "hits")


async def forget_windows_before(session: AsyncSession, window_start: int) -> None:
    await storage_of(session).execute(
        session,
        sa.delete(RateLimitWindow).where(RateLimitWindow.window_start < window_start)
    )
