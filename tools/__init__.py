"""Repository tools (documentation generators)."""
