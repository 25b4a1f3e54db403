"""The ``slotbook`` command: serve, migrate, load demo data.

Every way it can fail for a reason the operator can fix (a bad setting, a database that
is missing, unreachable or behind) ends with one line on stderr and a non-zero exit
status, never a traceback.
"""

from __future__ import annotations

import asyncio
from typing import NoReturn

import structlog
import typer

from slotbook.logging import configure_logging
from slotbook.settings import InvalidSetting, get_settings

app = typer.Typer(help="Slotbook booking backend.", no_args_is_help=True)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
log = structlog.get_logger("slotbook.cli")


@app.callback()
def main() -> None:
    """Read the settings before any command, so a bad value stops every command alike."""
    try:
        get_settings()
    except InvalidSetting as exc:
        _fail(str(exc), code=2)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
) -> None:
    """Serve the HTTP API (and the booking pages).

    The schema is checked once here, before any worker starts: PostgreSQL must be
    migrated with `slotbook db upgrade`; an SQLite database migrates itself.
    """
    import uvicorn

    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    _ensure_schema(settings.resolved_database_url(), settings.db_connect_timeout_seconds)
    settings.resolved_secret_key()  # create the shared key before workers start
    typer.echo(f"Slotbook on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    if workers > 1:
        from slotbook.workers import Supervisor

        try:
            raise typer.Exit(Supervisor(host, port, workers).run())
        except OSError as exc:
            _fail(f"Cannot listen on {host}:{port}: {exc.strerror}")
    uvicorn.run(
        "slotbook.app:create_app",
        factory=True,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        log_level="warning",
    )


def _ensure_schema(url: str, connect_timeout: float) -> None:
    """Refuse to serve a schema the code does not match, rather than answering 500s.

    SQLite is the embedded, single-machine default (``make demo``): nobody else runs
    its migrations, so it is brought up to date here. A PostgreSQL schema is shared and
    migrated deliberately, by whoever deploys; the server only tells them to.
    """
    from slotbook.migrations.runner import DatabaseUnreachable, schema_status, upgrade
    from slotbook.storage import is_embedded

    try:
        status = schema_status(url, connect_timeout=connect_timeout)
        if status.ok:
            return
        if is_embedded(url) and status.known:
            upgrade(url, connect_timeout=connect_timeout)
            log.info(
                "database_migrated",
                database=_display(url),
                from_revision=",".join(status.current) or None,
                to_revision=",".join(status.heads),
            )
            return
    except DatabaseUnreachable as exc:
        if not exc.transient:
            _fail(f"Cannot start: {exc}")
        # A database that is down may come back (a restart, a failover): serve, answer
        # 503 meanwhile, and let /readyz tell the schema once it can be read.
        log.warning("database_unreachable_at_start", reason=str(exc))
        return
    _fail(f"Refusing to start: database {status.describe()} ({_display(url)})")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the latest version (safe to repeat)."""
    from slotbook.migrations.runner import DatabaseUnreachable, upgrade

    settings = get_settings()
    url = settings.resolved_database_url()
    try:
        upgrade(url, connect_timeout=settings.db_connect_timeout_seconds)
    except DatabaseUnreachable as exc:
        _fail(f"Cannot migrate: {exc}")
    typer.echo(f"Database is up to date: {_display(url)}")


@app.command()
def worker(
    once: bool = typer.Option(False, "--once", help="Deliver what is due now, then exit."),
) -> None:
    """Deliver notifications: the outbox's events as emails, and reminders.

    Runs beside `serve` (several at once on PostgreSQL, one on SQLite) until SIGTERM or
    SIGINT. Without SLOTBOOK_SMTP_HOST, emails are written under <var_dir>/outbox-mail/.
    """
    from slotbook.notifications.service import run_worker

    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    _ensure_schema(settings.resolved_database_url(), settings.db_connect_timeout_seconds)
    asyncio.run(run_worker(settings, once=once))


@app.command("demo-data")
def demo_data() -> None:
    """Load a demo business (once) and print how to log in."""
    from slotbook.demo import load_demo

    configure_logging("WARNING")
    login = asyncio.run(load_demo(get_settings()))
    typer.echo(login)


def _fail(message: str, *, code: int = 1) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _display(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
