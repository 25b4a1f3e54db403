"""Run the real server (``slotbook serve``) in subprocesses for races and fault tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

SLOTBOOK = Path(sys.executable).parent / "slotbook"
LIVE_SECRET = "live-server-test-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """``slotbook serve --workers N`` on a free port, with its log kept in ``log_path``."""

    def __init__(
        self,
        database_url: str,
        *,
        workers: int,
        var_dir: Path,
        extra_env: dict[str, str] | None = None,
        ready_path: str = "/readyz",
    ) -> None:
        self.ready_path = ready_path
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = var_dir / f"server-{self.port}.log"
        var_dir.mkdir(parents=True, exist_ok=True)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SLOTBOOK_")},
            "SLOTBOOK_DATABASE_URL": database_url,
            "SLOTBOOK_SECRET_KEY": LIVE_SECRET,
            "SLOTBOOK_VAR_DIR": str(var_dir),
            "SLOTBOOK_LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LiveServer:
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [str(SLOTBOOK), "serve", "--port", str(self.port), "--workers", str(self.workers)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}{self.ready_path}", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not become ready:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")
