"""Celery tasks of the tasks domain.

The agent task queue needs none of its own: tasks are claimed by the agent's polls, and the
timelines that time out or cancel them run in ``deployments.run_timelines``.
"""

from __future__ import annotations
