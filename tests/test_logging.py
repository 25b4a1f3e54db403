"""Log lines are JSON, and an error a library logs keeps its stack."""

from __future__ import annotations

import json
import logging

import pytest

from slotbook.logging import configure_logging


def test_an_exception_logged_by_a_library_carries_its_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    capsys.readouterr()
    try:
        raise RuntimeError("the server ended the connection")
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    logged = next(line for line in lines if line["event"] == "Exception in ASGI application")
    assert logged["level"] == "error"
    assert "Traceback (most recent call last)" in logged["exception"]
    assert "RuntimeError: the server ended the connection" in logged["exception"]
