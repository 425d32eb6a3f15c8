"""Config domain."""
