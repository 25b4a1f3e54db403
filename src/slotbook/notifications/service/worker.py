"""``slotbook worker``: delivers the outbox, at least once, in order per appointment.

Why an outbox table read by the worker, not a queue library: procrastinate and
pgqueuer both need PostgreSQL (LISTEN/NOTIFY, PL/pgSQL, advisory locks), and the
embedded SQLite database is the default. The outbox row is written by the booking's own
statement in the booking's own transaction (a queue library would need its own
connection, or its own schema on the same one), so an event exists exactly when its
change committed, on both databases, and its claim is a plain UPDATE.

The protocol, per round:

1. Claim (one short transaction): lease up to ``batch_size`` due events, taking only
   those whose stream (the appointment) has no earlier undelivered event; on PostgreSQL
   with ``FOR UPDATE SKIP LOCKED`` (``Storage.skip_locked``), so several workers take
   disjoint batches without waiting on each other. On SQLite the claim runs under the
   database's write lock; one worker is the deployment there. The claim counts an
   attempt and sets ``claimed_until = now + lease``.
2. Deliver each event outside any transaction (the mail server may be slow), then
   settle it in a short transaction with its delivery records: delivered, or back off
   ``backoff * 2**(attempt-1)`` (capped) until the next attempt, or, after
   ``max_attempts``, failed.
3. A worker killed mid-batch settles nothing: its leases run out and another worker (or
   the same one restarted) claims those events again. Delivery is therefore at least
   once; a duplicate carries the same event id and Message-ID.

Reminders are not rows written by booking: each round (at most every
``REMINDER_SCAN_SECONDS`` when looping) the worker looks for open appointments starting
within the reminder lead whose current start has no reminder decided yet, and writes an
"appointment.reminder" event for each (``notification_reminders`` remembers the
decision per start). A moved appointment has a new start, so its reminder moves with
it; a cancelled one is no longer open; lead times are elapsed time before the start
instant, so a DST change in between does not shift them. A booking made inside the lead
time gets no reminder (its confirmation has just gone out).

Waitlist entries expire the same way: each scan (``expire_waitlist``) marks the
waiting entries whose session has started (``starts_at < now``) as expired and writes a
"waitlist.expired" event for each, in one transaction per batch of
``WAITLIST_EXPIRY_BATCH``, across tenants, at most ``WAITLIST_EXPIRY_BATCHES`` batches
a scan (a scan that hits the bound is followed by another at once). The update is
conditional (``status`` still waiting) and, on PostgreSQL, claims its rows with ``FOR
UPDATE SKIP LOCKED``, so several workers sweep side by side and each entry expires
once; nothing else changes an entry of a started session (no cancel, join or promotion
acts on one). An entry reads "expired" through the API from its start either way.

Webhooks ride on the same rounds. Settling an event (step 2, whatever became of its
emails) also writes one ``webhook_deliveries`` row per active endpoint of its tenant
that subscribes to its type, in the same transaction: a delivery exists exactly when
its event has been handled once, and a retried event writes none twice. Each round then
claims due deliveries with the same lease protocol (``WebhookQueue.claim``; an earlier
pending delivery of the same appointment to the same endpoint holds back the later
ones), sends them outside any transaction (``webhook_delivery``) and settles each:
delivered on 2xx; on 410 Gone, or when the address rule refuses the URL, failed and
the endpoint disabled at once; otherwise retried after ``backoff * 2**(attempt-1)``
(capped) until ``max_attempts``, after which the delivery fails and its endpoint is
disabled, so its remaining deliveries wait until a manager re-activates it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from slotbook.booking.service.waitlist import SYSTEM, entry_notice
from slotbook.clock import Clock, SystemClock
from slotbook.ids import new_id
from slotbook.notifications.repository import (
    EntryContext,
    MailContext,
    OutboxRepository,
    WebhookQueue,
)
from slotbook.notifications.schemas import ClaimedDelivery, ClaimedEvent, Email, Outcome
from slotbook.notifications.service.emails import (
    CHANNEL,
    VERSIONS,
    MailConfig,
    booking_of,
    emails_for,
    entry_emails_for,
    entry_of,
    needs_sequence,
    to_message,
)
from slotbook.notifications.service.transports import (
    PermanentFailure,
    Transport,
    transport_from_settings,
)
from slotbook.notifications.service.webhook_delivery import (
    Attempt,
    Result,
    WebhookConfig,
    WebhookSender,
    is_webhook_event,
    subscribes,
    webhook_body,
)
from slotbook.outbox import Notice, appointment_stream
from slotbook.settings import Settings
from slotbook.storage import Database, create_database
from slotbook.timetable.service import extend_schedules

log = structlog.get_logger("slotbook.notifications")
REMINDER_SCAN_SECONDS = 30.0
REMINDER_SCAN_LIMIT = 500
# Waitlist entries expired per transaction, and transactions per scan.
WAITLIST_EXPIRY_BATCH = 200
WAITLIST_EXPIRY_BATCHES = 10
# After an unexpected error (e.g. the database is away), wait this long before retrying.
ERROR_PAUSE_SECONDS = 5.0


@dataclass(frozen=True)
class WorkerConfig:
    mail: MailConfig
    reminder_lead: timedelta
    batch_size: int = 50
    concurrency: int = 4
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 8
    backoff: timedelta = timedelta(seconds=30)
    backoff_max: timedelta = timedelta(hours=1)
    poll_seconds: float = 1.0
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        return cls(
            mail=MailConfig(
                public_url=settings.public_url,
                secret=settings.resolved_secret_key(),
                sender_address=settings.smtp_from,
            ),
            reminder_lead=timedelta(hours=settings.reminder_hours),
            batch_size=settings.worker_batch_size,
            concurrency=settings.worker_concurrency,
            lease=timedelta(seconds=settings.worker_lease_seconds),
            max_attempts=settings.worker_max_attempts,
            backoff=timedelta(seconds=settings.worker_backoff_seconds),
            backoff_max=timedelta(seconds=settings.worker_backoff_max_seconds),
            poll_seconds=settings.worker_poll_seconds,
            webhooks=WebhookConfig.from_settings(settings),
        )

    def backoff_after(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: doubling, capped."""
        wait: timedelta = self.backoff * 2 ** max(0, attempts - 1)
        return min(wait, self.backoff_max)


@dataclass(frozen=True)
class Batch:
    """A claimed batch's reads: the bookings (by tenant and appointment), the calendar
    versions (by event seq), who retried events already reached, and the waitlist
    entries (by tenant and entry)."""

    contexts: dict[tuple[str, str], MailContext]
    sequences: dict[int, int]
    sent: set[tuple[str, str]]
    entries: dict[tuple[str, str], EntryContext] = field(default_factory=dict)


class Worker:
    """Claims, delivers and settles outbox events; see the module's docstring."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        transport: Transport,
        config: WorkerConfig,
        *,
        name: str | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.transport = transport
        self.config = config
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stopping = asyncio.Event()
        self.webhooks = WebhookSender(config.webhooks)

    # One round

    async def schedule_reminders(self) -> int:
        """Write the reminder events that are due; how many."""
        lead = self.config.reminder_lead
        if lead <= timedelta(0):
            return 0
        now = self.clock.now()
        scheduled = 0
        async with self.database.transaction(write=True) as session:
            repo = OutboxRepository(session)
            for due in await repo.due_reminders(now, lead, REMINDER_SCAN_LIMIT):
                notice = None
                if due.created_at <= due.starts_at - lead:
                    payload = {
                        "appointment_id": due.appointment_id,
                        "starts_at": due.starts_at.isoformat(),
                        "ends_at": due.ends_at.isoformat(),
                    }
                    stream = appointment_stream(due.appointment_id)
                    notice = Notice(new_id(), "appointment.reminder", stream, now, payload)
                    scheduled += 1
                await repo.decide_reminder(due, notice, now)
        return scheduled

    async def expire_waitlist(self) -> int:
        """Expire the waiting entries whose session has started, each with its
        "waitlist.expired" event in the same transaction, in bounded batches; how many
        (``WAITLIST_EXPIRY_BATCH * WAITLIST_EXPIRY_BATCHES`` when more may be left)."""
        expired = 0
        for _ in range(WAITLIST_EXPIRY_BATCHES):
            now = self.clock.now()
            async with self.database.transaction(write=True) as session:
                repo = OutboxRepository(session)
                entries = await repo.expire_waiting(now, WAITLIST_EXPIRY_BATCH)
                await repo.add_notices(
                    [
                        (entry.tenant_id, entry_notice("expired", entry, now, SYSTEM))
                        for entry in entries
                    ]
                )
            expired += len(entries)
            if len(entries) < WAITLIST_EXPIRY_BATCH or self.stopping.is_set():
                break
        if expired:
            log.info("waitlist_entries_expired", worker=self.name, count=expired)
        return expired

    async def scan(self) -> bool:
        """The periodic work: reminders due, waitlist entries expired, class schedules'
        sessions laid out to the horizon. Whether a bound was hit (more expiries may be
        due at once)."""
        await self.schedule_reminders()
        added = await extend_schedules(self.database, self.clock.now())
        if added:
            log.info("class_sessions_laid_out", worker=self.name, count=added)
        expired = await self.expire_waitlist()
        return expired >= WAITLIST_EXPIRY_BATCH * WAITLIST_EXPIRY_BATCHES

    async def step(self) -> int:
        """Claim one batch and deliver it; the number of events claimed."""
        now = self.clock.now()
        async with self.database.transaction(write=True) as session:
            repo = OutboxRepository(session)
            await repo.give_up_abandoned(now, self.config.max_attempts)
            events = await repo.claim(
                now,
                self.name,
                self.config.lease,
                self.config.batch_size,
                self.config.max_attempts,
            )
        if not events:
            return 0
        batch = await self.read(events)
        # Start nothing late in the lease: another worker may claim it when it runs out.
        start_by = now + self.config.lease * 0.8
        # A batch holds one event per stream, so its events may go out side by side.
        gate = asyncio.Semaphore(self.config.concurrency)
        unstarted: list[int] = []

        async def deliver(event: ClaimedEvent) -> None:
            async with gate:
                if self.stopping.is_set() or self.clock.now() >= start_by:
                    unstarted.append(event.seq)
                    return
                await self.deliver(event, batch)

        results = await asyncio.gather(*(deliver(e) for e in events), return_exceptions=True)
        if unstarted:
            async with self.database.transaction(write=True) as session:
                await OutboxRepository(session).release(unstarted, self.name)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return len(events)

    async def read(self, events: Sequence[ClaimedEvent]) -> Batch:
        """What the batch's messages say, in one read transaction for the whole batch."""
        async with self.database.transaction(write=False) as session:
            repo = OutboxRepository(session)
            bookings = [booking for event in events if (booking := booking_of(event))]
            contexts = await repo.mail_contexts(bookings)
            entries = await repo.entry_contexts(
                [entry for event in events if (entry := entry_of(event))]
            )
            sequences = {
                event.seq: await repo.calendar_sequence(event, VERSIONS)
                for event in events
                if needs_sequence(event)
            }
            # Only an earlier attempt can have reached someone already.
            retried = [event.id for event in events if event.attempts > 1]
            sent = await repo.sent_recipients(retried, CHANNEL)
        return Batch(contexts, sequences, sent, entries)

    async def deliver(self, event: ClaimedEvent, batch: Batch | None = None) -> None:
        """Send what ``event`` sends, then settle it with its delivery records."""
        outcomes: list[Outcome] = []
        error: str | None = None
        try:
            batch = batch or await self.read([event])
            emails = self._emails(event, batch)
            for email in emails:
                if (event.id, email.recipient) in batch.sent:
                    continue
                outcome = await self._send(event, email)
                outcomes.append(outcome)
                if outcome.status == "retrying":
                    error = outcome.error
                    break
        except Exception as exc:  # a bug or the database: the event is retried all the same
            log.exception("notification_event_failed", event_id=event.id, type=event.type)
            error = _describe(exc)
        now = self.clock.now()
        final = error is not None and event.attempts >= self.config.max_attempts
        async with self.database.transaction(write=True) as session:
            repo = OutboxRepository(session)
            for outcome in outcomes:
                if final and outcome.status == "retrying":
                    outcome = Outcome(outcome.email, "failed", outcome.error)
                await repo.record(event, CHANNEL, outcome, now)
            await self.fan_out(WebhookQueue(session), event, now)
            if error is None:
                await repo.delivered(event, now)
            else:
                retry_at = now + self.config.backoff_after(event.attempts)
                await repo.retry_later(event, self.name, retry_at, error, final)
        if error is not None:
            log.warning(
                "notification_retry" if not final else "notification_given_up",
                event_id=event.id,
                type=event.type,
                attempts=event.attempts,
                error=error,
            )

    def _emails(self, event: ClaimedEvent, batch: Batch) -> list[Email]:
        """What ``event`` emails: about a booking, or about a waitlist entry."""
        now = self.clock.now()
        booking = booking_of(event)
        if booking is not None:
            context = batch.contexts.get(booking)
            sequence = batch.sequences.get(event.seq, 0)
            return emails_for(event, context, sequence, self.config.mail, now)
        entry = entry_of(event)
        if entry is not None:
            return entry_emails_for(event, batch.entries.get(entry), self.config.mail, now)
        return []

    async def fan_out(self, queue: WebhookQueue, event: ClaimedEvent, now: datetime) -> None:
        """The event's webhook deliveries, one per subscribed endpoint (in the settle
        transaction; on a retried event the ones already written stay as they are)."""
        if not is_webhook_event(event.type):
            return
        subscribers = await queue.subscribers(event.tenant_id, event.created_at)
        wanted = [s.endpoint_id for s in subscribers if subscribes(s.event_types, event.type)]
        if wanted:
            await queue.add_deliveries(event, wanted, webhook_body(event), now)

    async def _send(self, event: ClaimedEvent, email: Email) -> Outcome:
        message = to_message(
            email,
            sender_address=self.config.mail.sender_address,
            event_id=event.id,
            now=self.clock.now(),
        )
        try:
            await self.transport.send(message, email.recipient)
        except PermanentFailure as exc:
            log.warning("email_refused", event_id=event.id, kind=email.kind, error=str(exc))
            return Outcome(email, "failed", _describe(exc))
        except Exception as exc:
            return Outcome(email, "retrying", _describe(exc))
        log.info("email_sent", event_id=event.id, kind=email.kind, type=event.type)
        return Outcome(email, "sent")

    # Webhooks

    async def step_webhooks(self) -> int:
        """Claim one batch of webhook deliveries and send it; the number claimed."""
        now = self.clock.now()
        hooks = self.config.webhooks
        async with self.database.transaction(write=True) as session:
            queue = WebhookQueue(session)
            for endpoint_id in await queue.give_up_abandoned(now, hooks.max_attempts):
                reason = f"{_DISABLED}: a delivery's last attempt was cut short (worker stopped)"
                await queue.disable_endpoint(endpoint_id, reason, now)
            deliveries = await queue.claim(
                now, self.name, self.config.lease, self.config.batch_size, hooks.max_attempts
            )
        if not deliveries:
            return 0
        start_by = now + self.config.lease * 0.8
        gate = asyncio.Semaphore(self.config.concurrency)
        unstarted: list[str] = []

        async def send(delivery: ClaimedDelivery) -> None:
            async with gate:
                if self.stopping.is_set() or self.clock.now() >= start_by:
                    unstarted.append(delivery.id)
                    return
                await self.deliver_webhook(delivery)

        results = await asyncio.gather(*(send(d) for d in deliveries), return_exceptions=True)
        if unstarted:
            async with self.database.transaction(write=True) as session:
                await WebhookQueue(session).release(unstarted, self.name)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return len(deliveries)

    async def deliver_webhook(self, delivery: ClaimedDelivery) -> None:
        """Send one delivery, then settle it (and disable its endpoint when it must)."""
        try:
            attempt = await self.webhooks.send(delivery, self.clock.now())
        except Exception as exc:  # a bug: retried all the same
            log.exception("webhook_attempt_failed", delivery_id=delivery.id)
            attempt = Attempt(Result.RETRY, error=_describe(exc))
        now = self.clock.now()
        hooks = self.config.webhooks
        last = delivery.attempts >= hooks.max_attempts
        disable: str | None = None
        async with self.database.transaction(write=True) as session:
            queue = WebhookQueue(session)
            status, excerpt, error = attempt.status, attempt.excerpt, attempt.describe()
            if attempt.result is Result.DELIVERED:
                await queue.delivered(delivery, now, status, excerpt)
            elif attempt.result is Result.RETRY and not last:
                retry_at = now + hooks.backoff_after(delivery.attempts)
                await queue.retry_later(delivery, self.name, retry_at, now, status, excerpt, error)
            elif await queue.failed(delivery, self.name, now, status, excerpt, error):
                disable = _disabled_reason(attempt, delivery, now)
                await queue.disable_endpoint(delivery.endpoint_id, disable, now)
        fields = {
            "delivery_id": delivery.id,
            "endpoint_id": delivery.endpoint_id,
            "event_id": delivery.event_id,
            "type": delivery.event_type,
            "attempts": delivery.attempts,
            "status": attempt.status,
        }
        if attempt.result is Result.DELIVERED:
            log.info("webhook_delivered", **fields)
        elif disable is not None:
            log.warning("webhook_endpoint_disabled", reason=disable, **fields)
        else:
            log.warning("webhook_retry", error=attempt.describe(), **fields)

    # Running

    async def run_once(self) -> int:
        """Everything due now: reminders and waitlist expiries, then rounds until nothing
        is claimable (events and webhook deliveries backing off are not). The number of
        events and webhook deliveries handled."""
        while await self.scan() and not self.stopping.is_set():
            pass
        handled = 0
        while not self.stopping.is_set():
            claimed = await self.step()
            claimed += await self.step_webhooks()
            if claimed == 0:
                break
            handled += claimed
        return handled

    async def run(self) -> None:
        """Rounds until ``stopping`` is set, resting ``poll_seconds`` when idle."""
        loop = asyncio.get_running_loop()
        next_scan = 0.0
        log.info("worker_started", worker=self.name)
        while not self.stopping.is_set():
            try:
                if loop.time() >= next_scan:
                    more = await self.scan()
                    next_scan = loop.time() + (0.0 if more else REMINDER_SCAN_SECONDS)
                claimed = await self.step()
                claimed += await self.step_webhooks()
                pause = 0.0 if claimed else self.config.poll_seconds
            except Exception:
                log.exception("worker_round_failed")
                pause = ERROR_PAUSE_SECONDS
            if pause:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), pause)
        log.info("worker_stopped", worker=self.name)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


_DISABLED = "disabled by the worker"


def _disabled_reason(attempt: Attempt, delivery: ClaimedDelivery, now: datetime) -> str:
    """What an endpoint's ``disabled_reason`` says after a delivery failed for good."""
    when = now.isoformat()
    if attempt.result is Result.GONE:
        return f"{_DISABLED}: the endpoint answered 410 Gone at {when} (event {delivery.event_id})"
    if attempt.result is Result.REFUSED:
        return f"{_DISABLED}: {attempt.describe()} (at {when})"
    return (
        f"{_DISABLED}: {delivery.attempts} attempts of event {delivery.event_id} "
        f"({delivery.event_type}) failed, the last at {when}: {attempt.describe()}"
    )


async def run_once(
    database: Database, clock: Clock, transport: Transport, config: WorkerConfig
) -> int:
    """Deliver everything due at ``clock.now()`` (tests drive the worker this way)."""
    return await Worker(database, clock, transport, config).run_once()


async def run_worker(settings: Settings, *, once: bool = False) -> None:
    """The ``slotbook worker`` process: until SIGTERM or SIGINT (finishing the event in
    hand and handing back the rest of its batch), or one pass with ``once``."""
    database = create_database(settings)
    worker = Worker(
        database,
        SystemClock(),
        transport_from_settings(settings),
        WorkerConfig.from_settings(settings),
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stopping.set)
    try:
        if once:
            await worker.run_once()
        else:
            await worker.run()
    finally:
        await database.dispose()
