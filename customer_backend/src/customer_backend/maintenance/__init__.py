"""Maintenance mode the admins switch outside a deployment (seed 001)."""
