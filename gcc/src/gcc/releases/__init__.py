"""Releases domain."""
