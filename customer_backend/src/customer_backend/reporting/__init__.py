"""Reporting domain."""
