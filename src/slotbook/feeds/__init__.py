"""Calendar feeds (RFC 5545): a staff member's sessions, a customer's bookings and an
outlet's classes, each behind a revocable, unguessable token.

Only a SHA-256 hash of a token is stored; the token itself is shown once, when the feed is
created. A feed is read in a fixed handful of queries whatever it holds.
"""
