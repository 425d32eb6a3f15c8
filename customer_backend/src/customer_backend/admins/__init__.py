"""Admins domain."""
