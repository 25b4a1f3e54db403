"""Webhooks for the tests: a real HTTP receiver (``http.server`` in a thread) that checks
every request's signature with ``standardwebhooks`` and answers as scripted."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Hit:
    """One request the receiver got, its signature checked."""

    path: str
    headers: dict[str, str]
    body: bytes
    answered: int
    verified: bool

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded

    @property
    def type(self) -> str:
        return str(self.payload["type"])


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: ``secrets`` by path (set after registering),
    ``script`` the statuses to answer next by path (200 once it runs out). A request
    whose signature does not verify is answered 400 and kept in ``hits`` with
    ``verified`` false."""

    secrets: dict[str, str] = field(default_factory=dict)
    script: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    hits: list[Hit] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def of(self, path: str) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.hits if hit.path == path]

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("content-length") or 0)
        body = request.rfile.read(length)
        headers = {name.lower(): value for name, value in request.headers.items()}
        path = request.path
        verified = False
        secret = self.secrets.get(path)
        if secret is None:
            self.failures.append(f"{path}: no secret known")
        else:
            try:
                Webhook(secret).verify(body, headers)
                verified = True
            except WebhookVerificationError as exc:
                self.failures.append(f"{path}: {exc}")
        with self.lock:
            queued = self.script.get(path)
            status = queued.pop(0) if queued else 200
            if not verified:
                status = 400
            self.hits.append(Hit(path, headers, body, status, verified))
        answer = json.dumps({"status": status, "note": "x" * 2000}).encode()
        request.send_response(status)
        request.send_header("content-type", "application/json")
        request.send_header("content-length", str(len(answer)))
        request.end_headers()
        request.wfile.write(answer)


def clock_time(now: Any) -> type[datetime]:
    """A ``datetime`` whose ``now()`` is ``now()``: patched into ``standardwebhooks`` so
    its five-minute tolerance is measured against the tests' clock, which signs too."""

    class ClockTime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> ClockTime:
            moment: datetime = now()
            return moment.astimezone(tz)  # type: ignore[return-value]

    return ClockTime
