"""Data access of the public pages' own: the rate limit. Tenants, outlets, services and
bookings are read through their features' services."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.public.models import RateLimitWindow
from slotbook.storage import storage_of


async def count_request(session: AsyncSession, client_key: str, window_start: int) -> int:
    """Add one request to the client's window and answer the window's count (atomically)."""
    storage = storage_of(session)
    values = {"client_key": client_key, "window_start": window_start, "hits": 1}
    return await storage.increment(session, RateLimitWindow, values, "hits")


async def forget_windows_before(session: AsyncSession, window_start: int) -> None:
    await storage_of(session).execute(
        session, sa.delete(RateLimitWindow).where(RateLimitWindow.window_start < window_start)
    )
