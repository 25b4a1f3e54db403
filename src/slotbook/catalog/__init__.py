"""Outlets, staff (with working hours and time off), services and customers."""
