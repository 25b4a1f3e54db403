"""Public booking endpoints for customers (no login), under /api/v1/public."""
