"""Slotbook: a booking backend for service businesses with parallel (group) booking."""

__version__ = "0.1.0"
