-- A plain GET of the URL given to wrk, with no extra header (the /healthz floor).
wrk.method = "GET"
