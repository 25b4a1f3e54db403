"""Opaque, sortable string ids."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """A 24-hex-char id: 6 bytes of milliseconds then 6 random bytes (sorts by creation)."""
    millis = int(time.time() * 1000) & 0xFFFFFFFFFFFF
    return f"{millis:012x}{os.urandom(6).hex()}"
