"""Who acts and when: what every booking command is given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from slotbook.booking.repository import Actor


@dataclass(frozen=True)
class BookingContext:
    """The tenant, the actor (a user, or the customer through the public page) and now."""

    tenant_id: str
    actor: Actor
    now: datetime

    @property
    def created_via(self) -> str:
        return "public" if self.actor.kind == "customer" else "staff"
