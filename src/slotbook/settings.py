"""Settings read from ``SLOTBOOK_*`` environment variables."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

import structlog
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path(os.environ.get("SLOTBOOK_VAR_DIR", "var"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLOTBOOK_", extra="ignore")

    var_dir: Path = VAR_DIR
    database_url: str = ""
    secret_key: str = ""
    access_token_minutes: int = Field(default=60 * 12, ge=1)
    log_level: str = "INFO"
    log_json: bool = True

    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_pool_timeout_seconds: float = Field(default=3.0, gt=0)
    db_pool_pre_ping: bool = True
    db_connect_timeout_seconds: float = Field(default=10.0, gt=0)
    lock_timeout_ms: int = Field(default=4000, ge=1)
    sqlite_busy_timeout_ms: int = Field(default=4000, ge=1)
    deadlock_retries: int = Field(default=3, ge=0)

    max_body_bytes: int = 1024 * 1024
    public_rate_limit_per_minute: int = Field(default=30, ge=1)

    # Notifications: links in emails, reminders, mail transport, the outbox worker.
    public_url: str = "http://127.0.0.1:8000"
    reminder_hours: float = Field(default=24, ge=0)
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    smtp_from: str = "bookings@localhost"
    smtp_timeout_seconds: float = Field(default=30, gt=0)
    worker_poll_seconds: float = Field(default=1, gt=0)
    worker_batch_size: int = Field(default=50, ge=1, le=1000)
    worker_concurrency: int = Field(default=4, ge=1, le=64)
    worker_lease_seconds: float = Field(default=60, gt=0)
    worker_max_attempts: int = Field(default=8, ge=1)
    worker_backoff_seconds: float = Field(default=30, gt=0)
    worker_backoff_max_seconds: float = Field(default=3600, gt=0)
    # Webhooks: the address rule, each request's time limit, and the retries.
    webhook_allow_private_addresses: bool = False
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=60)
    webhook_max_attempts: int = Field(default=10, ge=1, le=100)
    webhook_backoff_seconds: float = Field(default=60, gt=0)
    webhook_backoff_max_seconds: float = Field(default=6 * 3600, gt=0)

    # Only the race-control tests turn this on: it shows the race tests can fail.
    unsafe_disable_booking_locks: bool = False

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.var_dir / 'slotbook.sqlite3').resolve()}"

    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        return _secret_key_from_file(self.var_dir)


def _secret_key_from_file(var_dir: Path) -> str:
    """Generate a key once and keep it on disk, so every worker signs with the same key."""
    path = var_dir / "secret_key"
    var_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    structlog.get_logger().warning(
        "secret_key_generated",
        path=str(path),
        hint="set SLOTBOOK_SECRET_KEY in production",
    )
    return key


class InvalidSetting(ValueError):
    """A ``SLOTBOOK_*`` variable holds a value Slotbook cannot use. The message is one
    line naming each such variable, for the CLI to print instead of pydantic's report."""


# Values never repeated in an error message.
_SECRET_FIELDS = frozenset({"secret_key", "database_url", "smtp_password"})


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidSetting(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    prefix = str(Settings.model_config.get("env_prefix", ""))
    problems = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "?"
        shown = "" if field in _SECRET_FIELDS else f"={str(error.get('input'))!r}"
        problems.append(f"{prefix}{field.upper()}{shown}: {error['msg']}")
    return "invalid setting " + "; ".join(problems)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings; ``InvalidSetting`` when a variable's value is unusable."""
    return load_settings()
