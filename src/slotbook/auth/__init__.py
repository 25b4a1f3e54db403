"""Tenants, users, passwords and tokens."""
