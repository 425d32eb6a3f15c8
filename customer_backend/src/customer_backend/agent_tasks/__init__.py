"""Agent tasks domain: the queue of work for the installation's agent, claimed by its polls."""
