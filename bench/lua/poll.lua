-- GET /internal/agent/tasks with the agent secret from BENCH_AGENT_SECRET.
wrk.method = "GET"
wrk.path = "/internal/agent/tasks"
wrk.headers["X-Agent-Secret"] = os.getenv("BENCH_AGENT_SECRET")
