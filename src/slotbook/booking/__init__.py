"""Appointments, the booking rules, locking and the audit trail."""
