"""What was emailed about appointments: the desk shows it per booking, and the customer's
own page shows what they were sent (so "did they get the confirmation?" has an answer)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.notifications.repository import EmailLogRepository
from slotbook.notifications.schemas import EmailNotice


async def email_log(
    session: AsyncSession,
    tenant_id: str,
    appointment_ids: Sequence[str],
    *,
    written_to_files: bool,
    mask: bool = False,
) -> list[EmailNotice]:
    """Every email about these appointments, oldest first. ``written_to_files``: the
    server has no mail server configured, so messages went to .eml files."""
    deliveries = await EmailLogRepository(session, tenant_id).for_appointments(appointment_ids)
    return [
        EmailNotice(
            appointment_id=delivery.appointment_id or "",
            kind=delivery.kind,
            to=masked(delivery.recipient) if mask else delivery.recipient,
            status=delivery.status,
            sent_at=delivery.sent_at,
            written_to_file=written_to_files and delivery.sent_at is not None,
        )
        for delivery in deliveries
    ]


def masked(address: str) -> str:
    """``walk.in@example.com`` -> ``w******@example.com``: enough to recognise one's own
    address on a page whose link may be forwarded."""
    local, _, domain = address.partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}{'*' * max(1, len(local) - 1)}@{domain}"
