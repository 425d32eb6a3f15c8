"""Delivery domain."""
