"""Shared set-up for the brief's scenarios: a studio, its staff, and how full a session is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support import MONDAY, Api


@dataclass
class Studio:
    api: Api
    outlet: dict[str, Any]

    async def grid_slot(
        self,
        service: dict[str, Any],
        staff: dict[str, Any],
        start: str,
        *,
        date: str = MONDAY,
    ) -> dict[str, Any]:
        grid = await self.api.get(
            "/availability/availability-grid",
            params={
                "outlet_id": self.outlet["id"],
                "service_id": service["id"],
                "staff_id": staff["id"],
                "start_date": date,
                "end_date": date,
            },
        )
        matching = [slot for slot in grid[date] if slot["start_time"] == f"{start}:00"]
        assert len(matching) == 1, f"no single slot at {start} in {grid[date]}"
        return dict(matching[0])

    async def active_in_session(
        self, service: dict[str, Any], staff: dict[str, Any], start: str, *, date: str = MONDAY
    ) -> int:
        listing = await self.api.get(
            "/appointments",
            params={
                "staff_id": staff["id"],
                "service_id": service["id"],
                "start_date": date,
                "end_date": date,
                "status": ["pending", "confirmed", "completed"],
                "limit": 500,
            },
        )
        return sum(1 for a in listing["items"] if a["start_time"] == f"{start}:00")


async def open_studio(api: Api, business_name: str = "Lotus Yoga") -> Studio:
    await api.signup(business_name)
    return Studio(api, await api.outlet())
