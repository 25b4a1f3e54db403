"""``slotbook worker`` in a subprocess, and the .eml files it writes."""

from __future__ import annotations

import email
import os
import signal
import subprocess
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from tests.live_server import LIVE_SECRET, SLOTBOOK


class WorkerProcess:
    """One ``slotbook worker`` process writing mail under ``var_dir``/outbox-mail."""

    def __init__(
        self, database_url: str, var_dir: Path, name: str, extra_env: dict[str, str] | None = None
    ) -> None:
        var_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = var_dir / f"worker-{name}.log"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SLOTBOOK_")},
            "SLOTBOOK_DATABASE_URL": database_url,
            "SLOTBOOK_SECRET_KEY": LIVE_SECRET,
            "SLOTBOOK_VAR_DIR": str(var_dir),
            "SLOTBOOK_WORKER_POLL_SECONDS": "0.1",
            **(extra_env or {}),
        }
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(SLOTBOOK), "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, and the exit status."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        return int(self.process.returncode)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass(frozen=True)
class EmlFile:
    path: Path
    written_ns: int  # the file name starts with the time it was written
    message: EmailMessage

    @property
    def event_id(self) -> str:
        return str(self.message["X-Slotbook-Event-Id"])


def eml_files(directory: Path) -> list[EmlFile]:
    found = []
    for path in sorted(directory.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=default)
        assert isinstance(message, EmailMessage)
        found.append(EmlFile(path, int(path.name.split("-", 1)[0]), message))
    return found
