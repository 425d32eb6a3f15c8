"""Operators: the vendor's people who sign in to the operator console."""
