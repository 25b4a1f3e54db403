"""The server never misleads its operator: a database that is missing, unreachable or
behind the code, or a bad setting, is one clear line and a non-zero exit (or a 503 from
/readyz), never a traceback or a server that starts and answers 500s."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
import structlog
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from slotbook.app import create_app
from slotbook.logging import configure_logging
from slotbook.migrations.runner import alembic_config, schema_status, upgrade
from slotbook.settings import Settings
from tests.conftest import TEST_SECRET
from tests.databases import POSTGRES_ENV, postgres_admin_url
from tests.live_server import SLOTBOOK, LiveServer, free_port

SCRIPT = ScriptDirectory.from_config(alembic_config("sqlite://"))
HEAD = str(SCRIPT.get_current_head())
BEFORE_HEAD = str(SCRIPT.get_revisions(HEAD)[0].down_revision)
UNREACHABLE_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/slotbook"
needs_postgres = pytest.mark.skipif(
    postgres_admin_url() is None, reason=f"PostgreSQL tests need {POSTGRES_ENV}"
)


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SLOTBOOK), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def cli_env(var_dir: Path, **settings: str) -> dict[str, str]:
    """The test process's environment without its SLOTBOOK_* variables, plus these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLOTBOOK_")}
    env["SLOTBOOK_VAR_DIR"] = str(var_dir)
    env.update({f"SLOTBOOK_{name.upper()}": value for name, value in settings.items()})
    return env


def assert_one_line(stderr: str, *fragments: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    for fragment in fragments:
        assert fragment in lines[0], stderr


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def empty_postgres_database() -> AsyncIterator[str]:
    """A PostgreSQL database of the test's own with no tables; dropped afterwards."""
    admin_url = postgres_admin_url()
    assert admin_url is not None
    name = f"slotbook_operator_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(_dsn(admin_url), timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(_dsn(admin_url), timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def unmigrated_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database (no schema at all) on the test's backend."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    async with empty_postgres_database() as url:
        yield url


# --- serve and the schema -------------------------------------------------------------


@needs_postgres
@pytest.mark.parametrize(
    ("revision", "workers", "says"),
    [(None, "1", "schema missing"), (BEFORE_HEAD, "2", f"at revision {BEFORE_HEAD}")],
    ids=["missing", "behind-with-workers"],
)
async def test_serve_refuses_a_postgres_schema_that_is_missing_or_behind(
    revision: str | None, workers: str, says: str, tmp_path: Path
) -> None:
    async with empty_postgres_database() as url:
        if revision:
            await asyncio.to_thread(upgrade, url, revision)
        port = str(free_port())
        env = cli_env(tmp_path / "var", database_url=url)
        result = await asyncio.to_thread(
            run_cli, "serve", "--port", port, "--workers", workers, env=env
        )
        assert result.returncode != 0
        assert_one_line(result.stderr, "Refusing to start", says, "run `slotbook db upgrade`")
        assert "Slotbook on" not in result.stdout  # it never got as far as listening
        # Nothing migrated behind the operator's back.
        assert (await asyncio.to_thread(schema_status, url)).current == (
            (revision,) if revision else ()
        )


@pytest.mark.live
@pytest.mark.parametrize("revision", [None, BEFORE_HEAD], ids=["new-file", "behind"])
def test_serve_migrates_an_sqlite_database_itself_and_is_ready(
    revision: str | None, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'slotbook.sqlite3'}"
    if revision:
        upgrade(url, revision)
    server = LiveServer(
        url,
        workers=2,
        var_dir=tmp_path / "var",
        extra_env={"SLOTBOOK_LOG_LEVEL": "INFO", "SLOTBOOK_LOG_JSON": "false"},
    )
    with server:  # entering waits for /readyz to answer 200
        ready = httpx.get(f"{server.base_url}/readyz", timeout=5)
        assert ready.json() == {"status": "ok"}
    assert schema_status(url).current == (HEAD,)
    log = server.log_text()
    assert "database_migrated" in log
    assert f"to_revision={HEAD}" in log
    # Human-readable logs written to a file carry no colour codes.
    assert "\x1b[" not in log


@pytest.fixture
async def behind_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database migrated to the revision before the head."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'behind.sqlite3'}"
        await asyncio.to_thread(upgrade, url, BEFORE_HEAD)
        yield url
        return
    async with empty_postgres_database() as url:
        await asyncio.to_thread(upgrade, url, BEFORE_HEAD)
        yield url


async def _readyz(url: str, tmp_path: Path) -> list[httpx.Response]:
    """/readyz twice against a fresh app, migrating to the head in between."""
    settings = Settings(database_url=url, secret_key=TEST_SECRET, var_dir=tmp_path / "var")
    app = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            before = await client.get("/readyz")
            await asyncio.to_thread(upgrade, url)
            after = await client.get("/readyz")
            again = await client.get("/readyz")  # now from the cached "schema ok"
            return [before, after, again]
    finally:
        await app.state.database.dispose()


async def test_readyz_is_503_while_the_schema_is_behind(behind_url: str, tmp_path: Path) -> None:
    before, after, again = await _readyz(behind_url, tmp_path)
    assert before.status_code == 503
    assert before.headers["retry-after"]
    body = before.json()
    assert body["status"] == "unavailable"
    assert "schema behind" in body["detail"]
    assert f"at revision {BEFORE_HEAD}" in body["detail"]
    assert "run `slotbook db upgrade`" in body["detail"]
    assert after.status_code == 200, after.text
    assert again.json() == {"status": "ok"}


async def test_readyz_is_503_while_the_schema_is_missing(
    unmigrated_url: str, tmp_path: Path
) -> None:
    before, after, _again = await _readyz(unmigrated_url, tmp_path)
    assert before.status_code == 503
    assert "schema missing" in before.json()["detail"]
    assert "run `slotbook db upgrade`" in before.json()["detail"]
    assert after.status_code == 200, after.text


async def test_readyz_is_503_for_a_schema_newer_than_the_code(
    backend: str, database_url: str, tmp_path: Path
) -> None:
    """A database migrated by a newer release: `db upgrade` cannot help, so not told."""
    app = create_app(
        Settings(database_url=database_url, secret_key=TEST_SECRET, var_dir=tmp_path / "var")
    )
    try:
        async with app.state.database.engine.begin() as connection:
            await connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                ready = await client.get("/readyz")
        finally:
            async with app.state.database.engine.begin() as connection:
                await connection.exec_driver_sql(
                    f"UPDATE alembic_version SET version_num = '{HEAD}'"
                )
    finally:
        await app.state.database.dispose()
    assert ready.status_code == 503
    assert "revision 9999, unknown to this version" in ready.json()["detail"]
    assert "db upgrade" not in ready.json()["detail"]


# --- a database that is not there -----------------------------------------------------


@needs_postgres
@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve"]], ids=["db-upgrade", "serve"])
def test_a_missing_postgres_database_is_one_line(command: list[str], tmp_path: Path) -> None:
    admin_url = postgres_admin_url()
    assert admin_url is not None
    name = f"slotbook_absent_{uuid.uuid4().hex[:8]}"
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    args = [*command, "--port", str(free_port())] if command == ["serve"] else command
    result = run_cli(*args, env=cli_env(tmp_path / "var", database_url=url))
    assert result.returncode != 0
    assert_one_line(result.stderr, f'database "{name}" does not exist', "createdb")


def test_migrating_an_unreachable_postgres_server_is_one_line(tmp_path: Path) -> None:
    """(``serve`` itself starts and answers 503 until the server is back, since an
    unreachable server may be restarting or failing over: tests/test_faults.py.)"""
    env = cli_env(tmp_path / "var", database_url=UNREACHABLE_POSTGRES)
    result = run_cli("db", "upgrade", env=env)
    assert result.returncode != 0
    assert_one_line(result.stderr, "cannot reach the PostgreSQL server at 127.0.0.1:1")


# --- settings and logs ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [("DB_POOL_SIZE", "abc"), ("LOG_JSON", "maybe"), ("ACCESS_TOKEN_MINUTES", "0")],
)
@pytest.mark.parametrize(
    "command", [["db", "upgrade"], ["serve"], ["demo-data"]], ids=["db-upgrade", "serve", "demo"]
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    command: list[str], variable: str, value: str, tmp_path: Path
) -> None:
    env = cli_env(
        tmp_path / "var",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}",
        **{variable: value},
    )
    result = run_cli(*command, env=env, timeout=30)
    assert result.returncode != 0
    assert_one_line(result.stderr, f"SLOTBOOK_{variable}={value!r}")
    assert not (tmp_path / "x.sqlite3").exists()  # stopped before touching anything


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_json_logs() -> Iterator[None]:
    yield
    configure_logging("INFO")


def _log_an_error_both_ways() -> None:
    log = structlog.get_logger("test.operator")
    try:
        raise RuntimeError("disk full")
    except RuntimeError:
        log.exception("write_failed", path="/tmp/x")
        logging.getLogger("uvicorn.error").exception("library error")


def test_plain_logs_have_no_colour_codes_off_a_terminal(
    capsys: pytest.CaptureFixture[str], restore_json_logs: None
) -> None:
    configure_logging("INFO", json=False)
    capsys.readouterr()
    _log_an_error_both_ways()
    err = capsys.readouterr().err
    assert "write_failed" in err
    assert "RuntimeError: disk full" in err
    assert "library error" in err
    assert "\x1b[" not in err


def test_plain_logs_keep_colours_on_a_terminal_unless_no_color(
    monkeypatch: pytest.MonkeyPatch, restore_json_logs: None
) -> None:
    for no_color, coloured in ((None, True), ("1", False)):
        terminal = _Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        if no_color:
            monkeypatch.setenv("NO_COLOR", no_color)
        configure_logging("INFO", json=False)
        structlog.get_logger("test.operator").warning("hello_terminal")
        assert "hello_terminal" in terminal.getvalue()
        assert ("\x1b[" in terminal.getvalue()) is coloured


# --- /docs without internet (the page itself; tests/test_docs_offline.py renders it) ---


async def test_the_docs_pages_load_nothing_from_other_hosts(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/docs", "/redoc"):
        page = await client.get(path)
        assert page.status_code == 200
        assert "/docs-assets/" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for external in ("cdn.jsdelivr.net", "fonts.googleapis.com", "tiangolo.com"):
            assert external not in page.text, (path, external)
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"):
        response = await client.get(f"/docs-assets/{asset}")
        assert response.status_code == 200, asset
        assert len(response.content) > 1000
    assert (await client.get("/docs/oauth2-redirect")).status_code == 200
    assert "/docs-assets" not in (await client.get("/openapi.json")).text
