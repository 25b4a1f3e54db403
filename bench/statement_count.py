"""Statements per request as PostgreSQL sees them, for any version of the server.

``count_statements`` turns on ``log_statement = 'all'`` (``ALTER SYSTEM`` and
``pg_reload_conf()``, which applies to open sessions at their next command), writes a
start marker, runs the caller's fixed number of requests, writes an end marker, and resets
the setting in a ``finally`` (others share this server). It then counts, in the PostgreSQL
log between the two markers, the lines of the bench database: ``statement: ...`` (simple
protocol, e.g. BEGIN/COMMIT from SQLAlchemy) and ``execute <name>: ...`` (asyncpg's
extended protocol). The markers' own connection is left out. Everything the server sends
is counted, the pool's pre-ping included; ``pre_ping`` says how many of the statements
per request are the ping (asyncpg's ``;`` and the BEGIN/ROLLBACK SQLAlchemy wraps it in).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

LOG_DIR = Path("/var/log/postgresql")
LINE = re.compile(
    r"^\S+ \S+ \S+ \[(?P<pid>\d+)\] (?P<user>[^@\s]*)@(?P<db>\S+) "
    r"LOG:  (?:statement: |execute (?P<name>[^:]+): )(?P<sql>.*)$"
)


def log_file() -> Path:
    files = sorted(LOG_DIR.glob("postgresql-*.log"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise RuntimeError(f"no PostgreSQL log in {LOG_DIR}")
    return files[-1]


def _kind(sql: str) -> str:
    words = sql.strip().rstrip(";").split()
    if not words:
        return "(empty)"
    head = words[0].upper()
    if head in ("SELECT", "WITH") and "FOR UPDATE" in sql.upper():
        return "SELECT ... FOR UPDATE"
    if head == "INSERT" and len(words) > 2:
        return f"INSERT INTO {words[2]}"
    if head == "UPDATE" and len(words) > 1:
        return f"UPDATE {words[1]}"
    if head == "SELECT":
        match = re.search(r"\bFROM\s+(\S+)", sql, re.IGNORECASE)
        return f"SELECT FROM {match.group(1)}" if match else " ".join(words[:3])[:40]
    return " ".join(words[:2])[:40]


async def count_statements(
    admin_dsn: str,
    bench_dsn: str,
    database: str,
    requests: int,
    run: Callable[[], Awaitable[None]],
) -> dict[str, Any]:
    """Run ``run()`` (which sends ``requests`` requests) with statement logging on."""
    path = log_file()
    token = uuid.uuid4().hex
    admin = await asyncpg.connect(admin_dsn)
    marker = await asyncpg.connect(bench_dsn)
    try:
        marker_pid = await marker.fetchval("SELECT pg_backend_pid()")
        offset = path.stat().st_size
        try:
            await admin.execute("ALTER SYSTEM SET log_statement = 'all'")
            await admin.execute("SELECT pg_reload_conf()")
            await asyncio.sleep(0.5)  # the postmaster signals the backends asynchronously
            await marker.execute(f"SELECT 'bench-count-start-{token}'")
            await run()
            await marker.execute(f"SELECT 'bench-count-end-{token}'")
        finally:
            await admin.execute("ALTER SYSTEM RESET log_statement")
            await admin.execute("SELECT pg_reload_conf()")
    finally:
        await marker.close()
        await admin.close()
    await asyncio.sleep(0.3)  # the logger writes asynchronously
    with path.open("rb") as log:
        log.seek(offset)
        text = log.read().decode("utf-8", "replace")
    start = text.find(f"bench-count-start-{token}")
    end = text.find(f"bench-count-end-{token}")
    if start < 0 or end < 0:
        raise RuntimeError(f"markers not found in {path} (is log_statement logged there?)")
    statements: list[tuple[str, str]] = []  # (pid, full statement text)
    for line in text[text.index("\n", start) + 1 : end].splitlines():
        if line.startswith(("\t", " ")):  # a multi-line statement goes on
            if statements and statements[-1][0] != "":
                pid, sql = statements[-1]
                statements[-1] = (pid, f"{sql} {line.strip()}")
            continue
        match = LINE.match(line)
        if not match or match["db"] != database or int(match["pid"]) == marker_pid:
            if statements and statements[-1][0] != "":
                statements.append(("", ""))  # continuation lines after here are not ours
            continue
        statements.append((match["pid"], match["sql"].strip()))
    statements = [item for item in statements if item[0]]
    kinds: Counter[str] = Counter(_kind(sql) for _, sql in statements)
    pids = {pid for pid, _ in statements}
    total = len(statements)
    # SQLAlchemy's pre-ping on asyncpg: BEGIN, an empty query (";", which PostgreSQL does
    # not log) and ROLLBACK, with nothing in between on that backend.
    ping = 0
    last: dict[str, str] = {}
    for pid, sql in statements:
        word = sql.rstrip(";").strip().upper()
        if word == "ROLLBACK" and last.get(pid) == "BEGIN":
            ping += 2
        last[pid] = word
    return {
        "requests": requests,
        "statements": total,
        "per_request": total / requests,
        "pre_ping_per_request": ping / requests,
        "without_pre_ping_per_request": (total - ping) / requests,
        "backends": len(pids),
        "kinds_per_request": {k: v / requests for k, v in kinds.most_common()},
        "log": str(path),
    }


def describe(counted: dict[str, Any], what: str) -> str:
    kinds = ", ".join(f"{k} {v:g}" for k, v in counted["kinds_per_request"].items())
    return (
        f"statements per {what}: {counted['per_request']:.2f} "
        f"({counted['statements']} over {counted['requests']} requests; pre-ping "
        f"{counted['pre_ping_per_request']:.2f}, without it "
        f"{counted['without_pre_ping_per_request']:.2f}) [{kinds}]"
    )
