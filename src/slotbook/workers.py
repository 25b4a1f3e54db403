"""Several server processes on one port, each with a listening socket of its own.

uvicorn's own ``--workers`` shares one listening socket between the processes. Every
worker wakes for a new connection and the first one awake accepts all that are
waiting, so a burst of connections (a client pool opening 16 keep-alive connections at
once) can land on one process and leave the other cores idle for as long as those
connections live. Here each worker binds its own socket with ``SO_REUSEPORT`` and the
kernel spreads new connections across them. A worker that dies takes its socket with
it, so the kernel never hands a connection to a socket nobody accepts on; the
supervisor starts a replacement.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import structlog

log = structlog.get_logger("slotbook.workers")
# A worker that exits sooner than this after its start is failing to start (bad
# settings, an unreachable port): restarting it would only repeat the failure.
STARTUP_GRACE_SECONDS = 5.0
STOP_TIMEOUT_SECONDS = 30.0
BACKLOG = 2048


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def check_port_free(host: str, port: int) -> None:
    """Fail early when another program holds the port.

    Without this, a second server started by mistake with ``SO_REUSEPORT`` would
    quietly join the first one's port and share its traffic.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def serve_one(host: str, port: int) -> None:
    """A worker process: its own socket, one uvicorn server on it.

    The CLI checked (or, for SQLite, migrated) the schema before starting any worker,
    so workers do not repeat it.
    """
    import uvicorn

    sock = listening_socket(host, port)
    config = uvicorn.Config(
        "slotbook.app:create_app",
        factory=True,
        access_log=False,
        log_config=None,
        log_level="warning",
    )
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    """Starts ``count`` workers, replaces any that die, and stops them all on SIGTERM
    or SIGINT."""

    def __init__(self, host: str, port: int, count: int) -> None:
        self.host, self.port, self.count = host, port, count
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[tuple[BaseProcess, float]] = []
        self.stopping = False

    def run(self) -> int:
        check_port_free(self.host, self.port)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self.workers = [self._start() for _ in range(self.count)]
        while not self.stopping:
            time.sleep(0.2)
            for index, (process, started) in enumerate(self.workers):
                if process.is_alive() or self.stopping:
                    continue
                if time.monotonic() - started < STARTUP_GRACE_SECONDS:
                    log.error("worker_failed_to_start", pid=process.pid, exitcode=process.exitcode)
                    self._stop_all()
                    return 1
                log.warning("worker_died", pid=process.pid, exitcode=process.exitcode)
                self.workers[index] = self._start()
        self._stop_all()
        return 0

    def _start(self) -> tuple[BaseProcess, float]:
        process = self.context.Process(target=serve_one, args=(self.host, self.port))
        process.start()
        return process, time.monotonic()

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _stop_all(self) -> None:
        self.stopping = True
        for process, _ in self.workers:
            if process.is_alive():
                process.terminate()  # uvicorn finishes the requests in flight, then exits
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process, _ in self.workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
