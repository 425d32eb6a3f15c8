"""Deployments domain: releases from download to outcome, schedules, rollbacks, history."""
