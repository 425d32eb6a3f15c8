"""Deployments domain."""
