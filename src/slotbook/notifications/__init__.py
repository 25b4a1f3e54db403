"""Telling people: the outbox worker, the emails it sends and the webhooks it delivers.

Booking writes its events into the outbox (``slotbook.outbox``) in the request's own
transaction; ``slotbook worker`` delivers them afterwards (``service.worker``): emails
to customers, and signed webhooks to the endpoints a business registers under
/api/v1/webhooks (``routes``, ``service.webhooks``). Nothing is sent from inside a
request, and booking never imports this package.
"""
