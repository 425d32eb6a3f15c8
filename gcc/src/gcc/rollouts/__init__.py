"""Phased rollouts of releases: waves, gates, halts and the operator's actions."""
