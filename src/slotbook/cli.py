"""The ``slotbook`` command: serve, migrate, load demo data."""

from __future__ import annotations

import asyncio

import typer

from slotbook.logging import configure_logging
from slotbook.settings import get_settings

app = typer.Typer(help="Slotbook booking backend.", no_args_is_help=True)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
) -> None:
    """Serve the HTTP API (and the booking pages)."""
    import uvicorn

    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    settings.resolved_secret_key()  # create the shared key before workers start
    typer.echo(f"Slotbook on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    if workers > 1:
        from slotbook.workers import Supervisor

        try:
            raise typer.Exit(Supervisor(host, port, workers).run())
        except OSError as exc:
            typer.echo(f"Cannot listen on {host}:{port}: {exc.strerror}", err=True)
            raise typer.Exit(1) from exc
    uvicorn.run(
        "slotbook.app:create_app",
        factory=True,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        log_level="warning",
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the latest version (safe to repeat)."""
    from slotbook.migrations.runner import upgrade

    url = get_settings().resolved_database_url()
    upgrade(url)
    typer.echo(f"Database is up to date: {_display(url)}")


@app.command("demo-data")
def demo_data() -> None:
    """Load a demo business (once) and print how to log in."""
    from slotbook.demo import load_demo

    configure_logging("WARNING")
    login = asyncio.run(load_demo(get_settings()))
    typer.echo(login)


def _display(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
