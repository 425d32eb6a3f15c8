"""Artifacts domain."""
