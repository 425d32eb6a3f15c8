"""What a Prometheus scrape reads from the database: the outbox, the task queue, the agent."""
