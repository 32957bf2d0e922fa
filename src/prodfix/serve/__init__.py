"""`prodfix serve`: the team service (webhooks, job queue, check runs, dashboard)."""
