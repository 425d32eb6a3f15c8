"""What a Prometheus scrape reads from the database: backlogs, states and their ages."""
