"""Telling people: the outbox worker and the emails it sends.

Booking writes its events into the outbox (``slotbook.outbox``) in the request's own
transaction; ``slotbook worker`` delivers them afterwards (``service.worker``). Nothing
here runs inside a request, and booking never imports this package.
"""
