"""Installation domain: what this installation runs and whether its agent is in touch."""
