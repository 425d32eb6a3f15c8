"""Deployments domain: releases from download to outcome, schedules, rollbacks, history.

Importing the domain registers what the end of an agent task means for a deployment with the
agent task queue, which sits below this domain and cannot import it.
"""

from customer_backend.agent_tasks.completion import on_task_end
from customer_backend.deployments.outcomes import record_task_end

on_task_end(record_task_end)
