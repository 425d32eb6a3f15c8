"""Fixtures of each tier, shared by every test that needs that tier served for real."""
